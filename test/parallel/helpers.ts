// Starting ranks and bfpo commands as child processes for the multi-process tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { loadPretrained } from '../../src/models/pretrained.js';

export const root = new URL('../../', import.meta.url).pathname;
const NODE_ARGS = ['--conditions=bfpo-source', '--import', 'tsx'];

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export interface Finished { code: number | null; signal: NodeJS.Signals | null; out: string; err: string; seconds: number; pid: number | undefined }

/** Waits for `proc`, collecting its output; `onErr` sees stderr as it arrives. */
export function finished(proc: ChildProcess, onErr?: (text: string) => void): Promise<Finished> {
  const t0 = Date.now();
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d) => { out += d; });
  proc.stderr?.on('data', (d) => { err += d; onErr?.(err); });
  return new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal, out, err, seconds: (Date.now() - t0) / 1000, pid: proc.pid })));
}

/** A TypeScript file of the tests run as its own process (the sources, through tsx). */
export function runTs(file: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [...NODE_ARGS, join(root, file), ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `bfpo ARGS` from the sources, in the repository root. */
export function bfpo(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return runTs('test/parallel/bfpo-cli.ts', args, env);
}

/** The largest |difference| between the weights of two model folders (loaded as float32). */
export function maxDiff(a: string, b: string): number {
  const ma = loadPretrained(a, { dtype: 'float32' }).model;
  const mb = loadPretrained(b, { dtype: 'float32' }).model;
  try {
    const pb = new Map(mb.namedParameters());
    let worst = 0;
    for (const [name, p] of ma.namedParameters()) {
      const d = p.sub(pb.get(name)!).abs().max();
      worst = Math.max(worst, d.item());
      d.dispose();
    }
    return worst;
  } finally {
    ma.dispose();
    mb.dispose();
  }
}
