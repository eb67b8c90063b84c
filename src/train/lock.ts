// One run per output folder: a lock file created atomically with the owner's pid, host and process start time.
// A lock whose process is gone (crashed, killed) is taken over, so a crash never leaves a folder stuck.
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BfpoError } from '../errors.js';

export const LOCK_FILE = '.bfpo-run.lock';

/** Raised when another live run holds the output folder. */
export class RunLockedError extends BfpoError {}

interface LockInfo { pid: number; host: string; start: string | null; since: string }

/** The kernel's start time of a process (Linux /proc), which tells a reused pid from the original; null elsewhere. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(info: LockInfo): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStart(info.pid);
  return !(info.start !== null && start !== null && start !== info.start);
}

function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return Number.isInteger(v.pid) && typeof v.host === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** A held lock; `release()` removes it (only if it is still ours). */
export interface RunLock {
  readonly path: string;
  release(): void;
}

/**
 * Takes the lock of `outputDir`, or throws RunLockedError naming the run that holds it. A lock left by a process
 * that no longer exists on this host is taken over, and `note` says so.
 * @example const lock = lockOutputDir('out'); try { train(); } finally { lock.release(); }
 */
export function lockOutputDir(outputDir: string, note: (text: string) => void = () => undefined): RunLock {
  mkdirSync(outputDir, { recursive: true });
  const path = join(outputDir, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, host: hostname(), start: processStart(process.pid), since: new Date().toISOString() };
  const body = JSON.stringify(mine);
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written whole under a private name, then hard-linked into place: link fails if a lock exists, so the lock
    // never appears half-written and two runs cannot both take it.
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, body);
    try {
      linkSync(tmp, path);
      return {
        path,
        release() {
          if (readLock(path)?.pid === mine.pid && readLock(path)?.start === mine.start) rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
    const held = readLock(path);
    if (held && held.host !== mine.host) {
      throw new RunLockedError(`${outputDir} is in use by a bfpo run on host ${held.host} (pid ${held.pid}, since ${held.since}). ` +
        `Choose another output_dir, or delete ${path} if that run has ended`);
    }
    if (held && alive(held)) {
      throw new RunLockedError(`${outputDir} is in use by another bfpo run (pid ${held.pid}, since ${held.since}); ` +
        'wait for it to finish or choose another output_dir');
    }
    note(held ? `taking over ${path}: its run (pid ${held.pid}) has ended without removing it` : `replacing the unreadable lock file ${path}`);
    const now = readLock(path);
    if (existsSync(path) && now?.pid === held?.pid && now?.start === held?.start) rmSync(path, { force: true });
  }
  throw new RunLockedError(`Could not take the lock ${path}: other runs keep taking it`);
}
