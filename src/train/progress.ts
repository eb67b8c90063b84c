// A one-line progress bar on stderr (only when stderr is a terminal): step, loss, learning rate, tokens/s, ETA.

/** Formats seconds as 1h02m, 3m20s or 45s. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

export interface ProgressInfo {
  step: number;
  total: number;
  loss?: number;
  lr?: number;
  tokensPerSecond?: number;
  etaSeconds?: number;
}

/** The bar's text for `info`, `width` characters of bar. */
export function progressLine(i: ProgressInfo, width = 24): string {
  const frac = i.total > 0 ? Math.min(1, i.step / i.total) : 0;
  const filled = Math.round(frac * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const parts = [`${bar} ${i.step}/${i.total}`];
  if (i.loss !== undefined) parts.push(`loss ${i.loss.toFixed(4)}`);
  if (i.lr !== undefined) parts.push(`lr ${i.lr.toExponential(2)}`);
  if (i.tokensPerSecond !== undefined) parts.push(`${Math.round(i.tokensPerSecond)} tok/s`);
  if (i.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(i.etaSeconds)}`);
  return parts.join(' | ');
}

/** Redraws the bar in place on a TTY; prints nothing otherwise. */
export class ProgressBar {
  readonly enabled: boolean;
  #shown = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, enabled?: boolean) {
    this.enabled = enabled ?? Boolean(stream.isTTY);
  }

  update(info: ProgressInfo): void {
    if (!this.enabled) return;
    this.stream.write(`\r\x1b[2K${progressLine(info)}`);
    this.#shown = true;
  }

  /** Prints a line above the bar (the bar is redrawn on the next update). */
  println(text: string): void {
    if (this.#shown) this.stream.write('\r\x1b[2K');
    this.stream.write(`${text}\n`);
    this.#shown = false;
  }

  stop(): void {
    if (this.#shown) this.stream.write('\n');
    this.#shown = false;
  }
}
