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

/** Counts of rows skipped under `skipInvalid`, grouped by reason, with the first few errors kept as examples. */
export class SkipReport {
  skipped = 0;
  readonly byReason = new Map<string, number>();
  readonly examples: DataError[] = [];

  /** Records one skipped row. */
  add(error: DataError): void {
    this.skipped += 1;
    const key = error.field ? `${error.field}: ${error.reason}` : error.reason;
    this.byReason.set(key, (this.byReason.get(key) ?? 0) + 1);
    if (this.examples.length < 5) this.examples.push(error);
  }

  /** Adds another report's counts to this one. */
  merge(other: SkipReport): void {
    this.skipped += other.skipped;
    for (const [k, v] of other.byReason) this.byReason.set(k, (this.byReason.get(k) ?? 0) + v);
    for (const e of other.examples) if (this.examples.length < 5) this.examples.push(e);
  }

  /** One line per reason, most frequent first; empty when nothing was skipped. */
  toString(): string {
    if (this.skipped === 0) return '';
    const lines = [...this.byReason].sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${v} x ${k}`);
    return `skipped ${this.skipped} invalid row(s):\n${lines.join('\n')}`;
  }
}
