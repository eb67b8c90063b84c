// Progress bars for long evaluations (cli-progress on a terminal; periodic plain lines otherwise; silent in tests).
import cliProgress from 'cli-progress';
import { phaseProgress } from '../train/progress.js';

/** One bar: advanced as samples finish. */
export interface ProgressBar {
  increment(n?: number): void;
  stop(): void;
}

/** Makes bars; `done` samples already finished in an earlier run count from the start. */
export interface Progress {
  bar(label: string, total: number, done: number): ProgressBar;
  /** A message printed without breaking the bars. */
  log(message: string): void;
  close(): void;
}

/** Progress that shows nothing. */
export const silentProgress: Progress = {
  bar: () => ({ increment() {}, stop() {} }),
  log() {},
  close() {},
};

/**
 * Bars on stderr when it is a terminal; otherwise a line when each bar starts, every 10% or 30 s, and at its end.
 *
 * @example const p = terminalProgress(); const b = p.bar('base advbench', 387, 0); b.increment(8); b.stop(); p.close();
 */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) {
    return {
      bar(label, total, done) {
        stream.write(`${label}: ${done}/${total} done before, running ${total - done}\n`);
        const phase = phaseProgress(label, total, { stream, tty: false, start: done });
        let now = done;
        return { increment: (n = 1) => phase.update((now += n)), stop: () => { phase.stop(); stream.write(`${label}: finished\n`); } };
      },
      log: (m) => void stream.write(`${m}\n`),
      close() {},
    };
  }
  const multi = new cliProgress.MultiBar(
    { stream, format: '{label} [{bar}] {value}/{total} {duration_formatted} (eta {eta_formatted})', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  return {
    bar(label, total, done) {
      const b = multi.create(total, done, { label });
      return { increment: (n = 1) => b.increment(n), stop: () => b.stop() };
    },
    log: (m) => multi.log(`${m}\n`),
    close: () => multi.stop(),
  };
}
