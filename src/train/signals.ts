// Graceful stop: while training runs, the first SIGINT or SIGTERM asks the loop to finish its step, write a
// checkpoint and return; a second one ends the process at once (every file is written through a temporary name,
// so nothing already written is damaged). The handlers count signals natively because Node's signal events cannot
// run inside the synchronous training loop.
import { native } from '../tensor/native.js';

/** Names of the signals the stop watcher handles. */
const NAMES: Record<number, 'SIGINT' | 'SIGTERM'> = { 2: 'SIGINT', 15: 'SIGTERM' };

/** A stop request seen between training steps. */
export interface StopWatch {
  /** The signal that asked the run to stop, or null. */
  requested(): 'SIGINT' | 'SIGTERM' | null;
  /** Restores the handlers that were in place before. */
  dispose(): void;
}

let active = 0;

/**
 * Installs the SIGINT/SIGTERM handlers for the duration of a run.
 * @example const stop = watchStopSignals(); try { while (!stop.requested()) step(); } finally { stop.dispose(); }
 */
export function watchStopSignals(): StopWatch {
  if (active === 0) native.installStopSignals();
  active += 1;
  let disposed = false;
  return {
    requested() {
      const [count, last] = native.stopSignals();
      return count > 0 ? (NAMES[last] ?? 'SIGTERM') : null;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      active -= 1;
      if (active === 0) native.uninstallStopSignals();
    },
  };
}

/** The exit status a process stopped by `signal` reports (128 + its number), as shells expect; 1 for an abort. */
export function signalExitCode(signal: 'SIGINT' | 'SIGTERM' | 'abort'): number {
  if (signal === 'abort') return 1;
  return signal === 'SIGINT' ? 130 : 143;
}
