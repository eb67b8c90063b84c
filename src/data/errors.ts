// Data errors name the file, the row and the field; the skip report counts rows dropped with `skipInvalid`.
import { BfpoError } from '../errors.js';

/** Raised when a data file or one of its rows cannot be used. `row` is zero-based; -1 means the whole file. */
export class DataError extends BfpoError {
  readonly file: string;
  readonly row: number;
  readonly field: string;
  readonly reason: string;

  constructor(file: string, row: number, field: string, reason: string) {
    const where = row >= 0 ? `${file}, row ${row}` : file;
    super(field ? `${where}, field "${field}": ${reason}` : `${where}: ${reason}`);
    this.file = file;
    this.row = row;
    this.field = field;
    this.reason = reason;
  }
}

/** How many rows one dataset split lost, and the first few of their row numbers (in the split, across shards). */
export interface SkippedRows {
  count: number;
  rows: number[];
}

/** Row numbers kept per dataset in a {@link SkipReport}. */
export const SKIP_ROWS_KEPT = 5;

/**
 * Counts of rows skipped under `skipInvalid`: per reason, per dataset split (with its first row numbers), and the
 * first few errors as examples.
 */
export class SkipReport {
  skipped = 0;
  readonly byReason = new Map<string, number>();
  readonly byDataset = new Map<string, SkippedRows>();
  readonly examples: DataError[] = [];

  /** Records one skipped row; `dataset` and `row` say where it was in the split (default: the error's file and row). */
  add(error: DataError, dataset: string = error.file, row: number = error.row): void {
    this.skipped += 1;
    const key = error.field ? `${error.field}: ${error.reason}` : error.reason;
    this.byReason.set(key, (this.byReason.get(key) ?? 0) + 1);
    const d = this.byDataset.get(dataset) ?? { count: 0, rows: [] };
    d.count += 1;
    if (d.rows.length < SKIP_ROWS_KEPT) d.rows.push(row);
    this.byDataset.set(dataset, d);
    if (this.examples.length < 5) this.examples.push(error);
  }

  /** Adds another report's counts to this one. */
  merge(other: SkipReport): void {
    this.skipped += other.skipped;
    for (const [k, v] of other.byReason) this.byReason.set(k, (this.byReason.get(k) ?? 0) + v);
    for (const [k, v] of other.byDataset) {
      const d = this.byDataset.get(k) ?? { count: 0, rows: [] };
      d.count += v.count;
      d.rows = [...d.rows, ...v.rows].slice(0, SKIP_ROWS_KEPT);
      this.byDataset.set(k, d);
    }
    for (const e of other.examples) if (this.examples.length < 5) this.examples.push(e);
  }

  /** One line per dataset (count and first rows), then one per reason, most frequent first; empty when nothing was skipped. */
  toString(): string {
    if (this.skipped === 0) return '';
    const datasets = [...this.byDataset].map(([k, v]) => `  ${k}: ${v.count} row(s), first ${v.rows.length === 1 ? 'row' : 'rows'} ${v.rows.join(', ')}`);
    const reasons = [...this.byReason].sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${v} x ${k}`);
    return `skipped ${this.skipped} invalid row(s):\n${[...datasets, ...reasons].join('\n')}`;
  }
}
