// `--nproc_per_node=N`: starts N ranks of the same command on this machine (child processes with torchrun's launch
// variables), forwards SIGTERM to them, and when one rank fails or is killed, names it and stops the others within
// a bounded time. Multi-node runs start one launcher per machine (--nnodes, --node_rank, --master_addr).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { ArgumentError } from '../errors.js';

/** The launcher's own flags (taken out of the command's arguments). */
export interface LaunchFlags {
  nprocPerNode: number | null;
  nnodes: number;
  nodeRank: number;
  masterAddr: string | null;
  masterPort: number | null;
  backend: string | null;
  /** Seconds each collective may wait. */
  timeout: number | null;
  /** Seconds joining the group may take. */
  initTimeout: number | null;
}

const FLAGS: Record<string, keyof LaunchFlags> = {
  nproc_per_node: 'nprocPerNode', nnodes: 'nnodes', node_rank: 'nodeRank', master_addr: 'masterAddr',
  master_port: 'masterPort', dist_backend: 'backend', dist_timeout: 'timeout', dist_init_timeout: 'initTimeout',
};

/** Help lines of the launcher's flags (for `bfpo train --help`). */
export const LAUNCH_HELP = [
  'Several processes (data parallel; see docs/distributed.md):',
  '  --nproc_per_node=N   start N ranks on this machine (also set by torchrun: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)',
  '  --nnodes=M --node_rank=I --master_addr=HOST --master_port=PORT   one launcher per machine for M machines',
  '  --dist_backend=gloo|nccl   the collective backend (default gloo on CPU)',
  '  --dist_timeout=SECONDS     how long each collective may wait (default 1800)',
  '  --dist_init_timeout=SECONDS  how long joining the group may take (default 300)',
].join('\n');

/** Splits the launcher's flags (`--flag=value` or `--flag value`, `-` or `_` inside) from the other arguments. */
export function takeLaunchFlags(args: string[]): { flags: LaunchFlags; rest: string[] } {
  const flags: LaunchFlags = { nprocPerNode: null, nnodes: 1, nodeRank: 0, masterAddr: null, masterPort: null, backend: null, timeout: null, initTimeout: null };
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z_-]+)(?:=(.*))?$/.exec(args[i]!);
    const field = m ? FLAGS[m[1]!.replace(/-/g, '_')] : undefined;
    if (!m || !field) { rest.push(args[i]!); continue; }
    let value = m[2];
    if (value === undefined) {
      value = args[++i];
      if (value === undefined) throw new ArgumentError(`--${m[1]} needs a value`);
    }
    if (field === 'masterAddr' || field === 'backend') {
      if (field === 'backend' && value !== 'gloo' && value !== 'nccl') throw new ArgumentError(`--dist_backend must be one of gloo, nccl but is ${JSON.stringify(value)}`);
      flags[field] = value;
      continue;
    }
    const n = Number(value);
    const min = field === 'nodeRank' ? 0 : 1;
    const ok = field === 'timeout' || field === 'initTimeout' ? n > 0 : Number.isInteger(n) && n >= min && (field !== 'masterPort' || n <= 65535);
    if (!ok) throw new ArgumentError(`--${m[1]} must be ${field === 'timeout' || field === 'initTimeout' ? 'a number of seconds > 0' : field === 'masterPort' ? 'a port number (1..65535)' : `an integer >= ${min}`} but is ${JSON.stringify(value)}`);
    (flags as unknown as Record<string, number>)[field] = n;
  }
  if (flags.nodeRank >= flags.nnodes) throw new ArgumentError(`--node_rank must be in 0..${flags.nnodes - 1} for --nnodes=${flags.nnodes} but is ${flags.nodeRank}`);
  return { flags, rest };
}

/** Whether these flags ask this process to start ranks (it is not itself a rank). */
export function wantsLaunch(flags: LaunchFlags, env: NodeJS.ProcessEnv = process.env): boolean {
  return (flags.nprocPerNode !== null && flags.nprocPerNode * flags.nnodes > 1) && env.RANK === undefined;
}

/** A TCP port that was free a moment ago (for a one-machine run). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** How long the other ranks get to stop after SIGTERM before SIGKILL, in milliseconds. */
export const STOP_GRACE_MS = 10_000;

/**
 * Starts the ranks of `command args` on this machine and waits for them. Resolves with the exit code: 0 when every
 * rank succeeded, else the first failed rank's code (128 + signal number for a killed rank).
 */
export async function launchRanks(command: string, args: string[], flags: LaunchFlags, say: (t: string) => void): Promise<number> {
  const nproc = flags.nprocPerNode ?? 1;
  const world = nproc * flags.nnodes;
  if (flags.nnodes > 1 && !flags.masterAddr) throw new ArgumentError('--nnodes > 1 needs --master_addr: the address of the machine with --node_rank=0, reachable from every machine');
  const masterAddr = flags.masterAddr ?? '127.0.0.1';
  const masterPort = flags.masterPort ?? (flags.nnodes === 1 ? await freePort() : 29500);
  const threads = process.env.OMP_NUM_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / nproc)));
  const children: { rank: number; proc: ChildProcess; done: boolean }[] = [];
  let failed: { rank: number; code: number } | null = null;
  let killTimer: NodeJS.Timeout | null = null;

  const stopOthers = (): void => {
    for (const c of children) if (!c.done) c.proc.kill('SIGTERM');
    killTimer ??= setTimeout(() => {
      for (const c of children) {
        if (c.done) continue;
        say(`rank ${c.rank} did not stop within ${STOP_GRACE_MS / 1000} s of SIGTERM; killing it`);
        c.proc.kill('SIGKILL');
      }
    }, STOP_GRACE_MS);
  };
  const forward = (sig: NodeJS.Signals) => (): void => { for (const c of children) if (!c.done) c.proc.kill(sig); };
  const onTerm = forward('SIGTERM');
  // Ctrl-C reaches every process of the terminal's group already; only SIGTERM is passed on.
  const onInt = (): void => undefined;
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);

  try {
    await new Promise<void>((resolve) => {
      let running = nproc;
      for (let local = 0; local < nproc; local++) {
        const rank = flags.nodeRank * nproc + local;
        const env: NodeJS.ProcessEnv = {
          ...process.env, RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(local), LOCAL_WORLD_SIZE: String(nproc),
          GROUP_RANK: String(flags.nodeRank), MASTER_ADDR: masterAddr, MASTER_PORT: String(masterPort), OMP_NUM_THREADS: threads,
        };
        if (flags.backend) env.BFPO_DIST_BACKEND = flags.backend;
        if (flags.timeout !== null) env.BFPO_DIST_TIMEOUT = String(flags.timeout);
        if (flags.initTimeout !== null) env.BFPO_DIST_INIT_TIMEOUT = String(flags.initTimeout);
        const proc = spawn(process.execPath, [...process.execArgv, process.argv[1]!, command, ...args], { env, stdio: 'inherit' });
        const child = { rank, proc, done: false };
        children.push(child);
        proc.on('exit', (code, signal) => {
          child.done = true;
          running--;
          if ((code !== 0 || signal) && failed === null) {
            const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
            failed = { rank, code: signal ? 128 + (signalNumber(signal) ?? 15) : code ?? 1 };
            if (running > 0) {
              say(`rank ${rank} (pid ${proc.pid}) ${how}; stopping the other ranks. Rerun the same command to resume from the last checkpoint`);
              stopOthers();
            } else say(`rank ${rank} (pid ${proc.pid}) ${how}`);
          }
          if (running === 0) resolve();
        });
      }
    });
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  }
  return failed === null ? 0 : (failed as { code: number }).code;
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 } as Record<string, number>)[sig];
}
