// The launch variables of a rank, as torchrun sets them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)
// and as `--nproc_per_node` sets them for its children.
import { ArgumentError } from '../errors.js';
import type { Backend } from './group.js';

/** One rank's place in a multi-process run. */
export interface RankEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
  /** The collective backend (BFPO_DIST_BACKEND; default gloo: the CPU backend). */
  backend: Backend;
  /** How long each collective may wait (BFPO_DIST_TIMEOUT seconds; default 1800). */
  timeoutMs: number;
  /** How long joining the group (and each wait for a store key) may take (BFPO_DIST_INIT_TIMEOUT; default 300, at most timeoutMs). */
  initTimeoutMs: number;
  /** torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE): rank 0 connects to it instead of hosting one. */
  agentStore: boolean;
  /** Distinguishes the keys of a restarted run on torchrun's store (TORCHELASTIC_RESTART_COUNT). */
  restart: number;
}

function int(env: NodeJS.ProcessEnv, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  const v = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isInteger(v) || v < min || v > max) {
    throw new ArgumentError(`The launch variable ${name} must be an integer in ${min}..${max === Number.MAX_SAFE_INTEGER ? '' : max} but is ${JSON.stringify(raw)}`);
  }
  return v;
}

/**
 * The rank's launch variables, or null when this process is not one rank of several (no RANK/WORLD_SIZE, or
 * WORLD_SIZE 1). Incomplete or invalid variables are an error naming the variable.
 */
export function rankEnv(env: NodeJS.ProcessEnv = process.env): RankEnv | null {
  if (env.WORLD_SIZE === undefined && env.RANK === undefined) return null;
  const worldSize = int(env, 'WORLD_SIZE', 1);
  if (worldSize === 1) return null;
  const rank = int(env, 'RANK', 0, worldSize - 1);
  for (const name of ['MASTER_ADDR', 'MASTER_PORT']) {
    if (!env[name]) throw new ArgumentError(`RANK and WORLD_SIZE are set but ${name} is not: set MASTER_ADDR and MASTER_PORT to rank 0's address and a free port (as torchrun does)`);
  }
  const backend = (env.BFPO_DIST_BACKEND ?? 'gloo') as Backend;
  if (backend !== 'gloo' && backend !== 'nccl') throw new ArgumentError(`BFPO_DIST_BACKEND must be one of gloo, nccl but is ${JSON.stringify(env.BFPO_DIST_BACKEND)}`);
  const timeout = env.BFPO_DIST_TIMEOUT === undefined ? 1800 : Number(env.BFPO_DIST_TIMEOUT);
  if (!(timeout > 0)) throw new ArgumentError(`BFPO_DIST_TIMEOUT must be a number of seconds > 0 but is ${JSON.stringify(env.BFPO_DIST_TIMEOUT)}`);
  const init = env.BFPO_DIST_INIT_TIMEOUT === undefined ? Math.min(300, timeout) : Number(env.BFPO_DIST_INIT_TIMEOUT);
  if (!(init > 0)) throw new ArgumentError(`BFPO_DIST_INIT_TIMEOUT must be a number of seconds > 0 but is ${JSON.stringify(env.BFPO_DIST_INIT_TIMEOUT)}`);
  return {
    rank, worldSize,
    localRank: env.LOCAL_RANK === undefined ? rank : int(env, 'LOCAL_RANK', 0),
    masterAddr: env.MASTER_ADDR!,
    masterPort: int(env, 'MASTER_PORT', 1, 65535),
    backend, timeoutMs: timeout * 1000, initTimeoutMs: init * 1000,
    agentStore: /^(1|true)$/i.test(env.TORCHELASTIC_USE_AGENT_STORE ?? ''),
    restart: env.TORCHELASTIC_RESTART_COUNT === undefined ? 0 : int(env, 'TORCHELASTIC_RESTART_COUNT', 0),
  };
}
