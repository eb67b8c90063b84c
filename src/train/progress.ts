// Console output of long phases (tokenizing, hashing, the reference pass, training, evaluation): a cli-progress bar
// on a terminal, periodic plain lines (no escape codes) otherwise; and the compact line of one training log step.
import cliProgress from 'cli-progress';

/** Formats seconds as 1h02m, 3m20s or 45s. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** What one training log step shows. */
export interface StepInfo {
  epoch: number;
  step: number;
  total: number;
  loss?: number;
  /** Preference runs: the share of pairs whose chosen reward beats the rejected one, and the mean margin. */
  accuracy?: number;
  margin?: number;
  lr?: number;
  tokensPerSecond?: number;
  etaSeconds?: number;
}

/**
 * The compact console line of one logging step.
 *
 * @example stepLine({ epoch: 1.5, step: 6, total: 8, loss: 0.69, lr: 1e-5 }) // 'epoch 1.50 | step 6/8 | loss 0.6900 | lr 1.00e-5'
 */
export function stepLine(i: StepInfo): string {
  const parts = [`epoch ${i.epoch.toFixed(2)}`, `step ${i.step}/${i.total}`];
  if (i.loss !== undefined) parts.push(`loss ${i.loss.toFixed(4)}`);
  if (i.accuracy !== undefined) parts.push(`acc ${i.accuracy.toFixed(3)}`);
  if (i.margin !== undefined) parts.push(`margin ${i.margin.toFixed(4)}`);
  if (i.lr !== undefined) parts.push(`lr ${i.lr.toExponential(2)}`);
  if (i.tokensPerSecond !== undefined) parts.push(`${Math.round(i.tokensPerSecond)} tok/s`);
  if (i.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(i.etaSeconds)}`);
  return parts.join(' | ');
}

/** One phase's progress: advanced as work finishes; `log` prints a line without breaking the display. */
export interface PhaseProgress {
  /** Sets how much is done (out of the total given at the start). */
  update(done: number): void;
  log(text: string): void;
  /** Ends the phase (a final line when not on a terminal and something was done since the last line). */
  stop(): void;
  /** A phase run inside this one (e.g. an evaluation during training): a second bar on a terminal, removed at its end. */
  child(label: string, total: number): PhaseProgress;
}

export interface PhaseOptions {
  stream?: NodeJS.WriteStream;
  /** Force the terminal bar (true) or plain lines (false); default: whether the stream is a terminal. */
  tty?: boolean;
  /** Plain lines: at most one per `everyPercent` of the total or `everySeconds` of time (defaults 10 and 30). */
  everyPercent?: number;
  everySeconds?: number;
  /** Plain lines: none before this many seconds (default 2), so short phases stay quiet. */
  quietSeconds?: number;
  /** Units already done when the phase starts (a resumed run). */
  start?: number;
  /** A clock in milliseconds (tests). */
  now?: () => number;
}

/** A phase that shows nothing. */
export const silentPhase: PhaseProgress = { update() {}, log() {}, stop() {}, child: () => silentPhase };

/**
 * Starts the display of a phase of `total` units named `label`: a cli-progress bar with count, rate and ETA on a
 * terminal; otherwise, once 2 seconds have passed, a plain line every 10% or 30 seconds and one at the end
 * (`label: done/total (pct%), elapsed, ETA`).
 *
 * @example const p = phaseProgress('tokenizing train', pairs.length); p.update(256); p.stop();
 */
export function phaseProgress(label: string, total: number, o: PhaseOptions = {}): PhaseProgress {
  const stream = o.stream ?? process.stderr;
  const tty = o.tty ?? Boolean(stream.isTTY);
  if (tty) {
    const multi = new cliProgress.MultiBar({
      stream, hideCursor: true, clearOnComplete: false, etaBuffer: 20, noTTYOutput: true,
      format: `${label} [{bar}] {value}/{total} {percentage}% | {duration_formatted} (eta {eta_formatted})`,
    }, cliProgress.Presets.shades_classic);
    const bar = multi.create(total, o.start ?? 0);
    let active = true;
    const child = (childLabel: string, childTotal: number): PhaseProgress => {
      const b = multi.create(childTotal, 0, {}, { format: `${childLabel} [{bar}] {value}/{total} {percentage}% | {duration_formatted} (eta {eta_formatted})` });
      return {
        update: (done) => b.update(done),
        log: (text) => multi.log(`${text}\n`),
        // MultiBar.remove redraws and re-arms its timer, so it is only called while the outer display runs.
        stop: () => { if (active) multi.remove(b); },
        child,
      };
    };
    return {
      update: (done) => bar.update(done),
      log: (text) => multi.log(`${text}\n`),
      // MultiBar prints logged lines only when it redraws: one last redraw, so lines logged just before the end show.
      stop: () => { if (active) { active = false; multi.update(); multi.stop(); } },
      child,
    };
  }
  const now = o.now ?? Date.now;
  const started = now();
  const stepUnits = Math.max(1, Math.ceil((total * (o.everyPercent ?? 10)) / 100));
  const everyMs = (o.everySeconds ?? 30) * 1000;
  let shownDone = o.start ?? 0;
  let shownAt = started;
  let done = shownDone;
  let printed = false;
  const quietMs = (o.quietSeconds ?? 2) * 1000;
  const line = (): void => {
    const elapsed = (now() - started) / 1000;
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
    const eta = done > (o.start ?? 0) ? (elapsed / (done - (o.start ?? 0))) * (total - done) : Number.NaN;
    stream.write(`${label}: ${done}/${total} (${pct}%), ${formatDuration(elapsed)} elapsed, ETA ${formatDuration(eta)}\n`);
    shownDone = done;
    shownAt = now();
    printed = true;
  };
  return {
    update(d) {
      done = d;
      if (now() - started < quietMs) return;
      if (done - shownDone >= stepUnits || (done > shownDone && now() - shownAt >= everyMs)) line();
    },
    log: (text) => void stream.write(`${text}\n`),
    stop() {
      if (done > shownDone && (printed || now() - started >= quietMs)) line();
    },
    child: (childLabel, childTotal) => phaseProgress(childLabel, childTotal, { ...o, stream, tty: false, start: 0 }),
  };
}
