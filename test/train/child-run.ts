// Runs a TypeScript child script of the tests (`node --conditions=bfpo-source --import tsx FILE ARGS...`, one libtorch
// thread) and resolves with how it exited and what it wrote; `onOut` sees each stdout chunk with the process, so
// a test can signal or kill it at the moment it chooses.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildExit { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

/** `file` is a URL or path of the child script; `args` follow it on its command line. */
export function runChild(file: URL | string, args: string[], onOut?: (chunk: string, child: ChildProcess) => void): Promise<ChildExit> {
  const script = file instanceof URL ? fileURLToPath(file) : file;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--conditions=bfpo-source', '--import', 'tsx', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BFPO_NUM_THREADS: '1' },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      onOut?.(d.toString(), p);
    });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('error', reject);
    p.on('exit', (code, signal) => resolve({ code, signal, out, err }));
  });
}
