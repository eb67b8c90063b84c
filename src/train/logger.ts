// Where training metrics go every `logging_steps`: the console (one compact line per step, a progress display),
// `output_dir/log.jsonl`, and TensorBoard event files under `output_dir/runs/`.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { phaseProgress, silentPhase, stepLine, type PhaseProgress, type StepInfo } from './progress.js';
import { EventWriter } from './tensorboard.js';

export interface LoggerOptions {
  /** null: no files (a rank other than 0 of a data-parallel run). */
  outputDir: string | null;
  /** 'tensorboard' writes event files; other names (wandb, ...) are accepted and ignored. */
  reportTo?: string[];
  /** Console output: a progress bar on a terminal plus one line per log (auto), plain lines only, or none. */
  console?: 'auto' | 'lines' | 'none';
  /** The training phase's steps in all and already done (the progress display). */
  totalSteps?: number;
  startStep?: number;
  /** Where the console output goes (default stderr). */
  stream?: NodeJS.WriteStream;
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
  #phase: PhaseProgress;

  constructor(o: LoggerOptions) {
    if (o.outputDir !== null) mkdirSync(o.outputDir, { recursive: true });
    this.jsonl = o.outputDir === null ? '' : join(o.outputDir, 'log.jsonl');
    if (o.outputDir !== null && o.reportTo?.includes('tensorboard')) this.#tb = new EventWriter(join(o.outputDir, 'runs'));
    this.#phase = o.console === 'none' ? silentPhase : phaseProgress('training', o.totalSteps ?? 0, {
      stream: o.stream, start: o.startStep ?? 0, ...(o.console === 'lines' ? { tty: false } : {}),
    });
  }

  /**
   * Records `values` at optimizer step `step` in log.jsonl and TensorBoard (train keys as `train/<key>`, eval keys
   * as `eval/<key>`) and returns the log.jsonl record. The console shows `line` as one compact step line when given,
   * else every value.
   */
  log(step: number, values: Record<string, number>, extra: Record<string, number> = {}, line?: StepInfo): LogRecord {
    const record: LogRecord = { ...values, ...extra, step };
    if (this.jsonl) appendFileSync(this.jsonl, `${JSON.stringify(record)}\n`);
    this.#tb?.scalars(step, Object.fromEntries(Object.entries(values).map(([k, v]) =>
      [k.startsWith('eval_') ? `eval/${k.slice(5)}` : `train/${k}`, v])));
    this.#phase.log(line ? stepLine(line) : `step ${step}: ${Object.entries(values).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`);
    return record;
  }

  /** A line of text on the console (not in the files). */
  info(text: string): void {
    this.#phase.log(text);
  }

  /** The line that says a checkpoint was written. */
  checkpoint(dir: string, step: number): void {
    this.#phase.log(`checkpoint saved: ${dir} (step ${step})`);
  }

  /** The progress display of an evaluation during training. */
  evaluation(batches: number): PhaseProgress {
    return this.#phase.child('evaluation', batches);
  }

  /** Advances the training progress display to optimizer step `step`. */
  progress(step: number): void {
    this.#phase.update(step);
  }

  close(): void {
    this.#phase.stop();
    this.#tb?.close();
    this.#tb = null;
  }
}
