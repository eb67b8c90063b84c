// Where training metrics go every `logging_steps`: the console, `output_dir/log.jsonl`, and TensorBoard event files
// under `output_dir/runs/`.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ProgressBar, type ProgressInfo } from './progress.js';
import { EventWriter } from './tensorboard.js';

export interface LoggerOptions {
  outputDir: string;
  /** 'tensorboard' writes event files; other names (wandb, ...) are accepted and ignored. */
  reportTo?: string[];
  /** Console output: a progress bar on a TTY plus one line per log (auto), the lines only, or none. */
  console?: 'auto' | 'lines' | 'none';
}

/** One line of `log.jsonl`: the step, the metrics, and `epoch` (plus `tokens` for training records). */
export type LogRecord = Record<string, number> & { step: number };

/** Formats a metric for the console. */
const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5 ? v.toExponential(3) : v.toFixed(4));

/**
 * @example const log = new TrainLogger({ outputDir: 'out', reportTo: ['tensorboard'] }); log.log(10, { loss: 0.5 });
 */
export class TrainLogger {
  readonly jsonl: string;
  #tb: EventWriter | null = null;
  #bar: ProgressBar | null;

  constructor(o: LoggerOptions) {
    mkdirSync(o.outputDir, { recursive: true });
    this.jsonl = join(o.outputDir, 'log.jsonl');
    if (o.reportTo?.includes('tensorboard')) this.#tb = new EventWriter(join(o.outputDir, 'runs'));
    this.#bar = o.console === 'none' ? null : new ProgressBar(process.stderr, o.console === 'lines' ? false : undefined);
  }

  /** Records `values` at optimizer step `step` everywhere and returns the log.jsonl record. Train keys are written as `train/<key>` to TensorBoard. */
  log(step: number, values: Record<string, number>, extra: Record<string, number> = {}): LogRecord {
    const record: LogRecord = { ...values, ...extra, step };
    appendFileSync(this.jsonl, `${JSON.stringify(record)}\n`);
    this.#tb?.scalars(step, Object.fromEntries(Object.entries(values).map(([k, v]) =>
      [k.startsWith('eval_') ? `eval/${k.slice(5)}` : `train/${k}`, v])));
    this.#bar?.println(`step ${step}: ${Object.entries(values).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`);
    return record;
  }

  /** A line of text on the console (not in the files). */
  info(text: string): void {
    this.#bar?.println(text);
  }

  progress(info: ProgressInfo): void {
    this.#bar?.update(info);
  }

  close(): void {
    this.#bar?.stop();
    this.#tb?.close();
    this.#tb = null;
  }
}
