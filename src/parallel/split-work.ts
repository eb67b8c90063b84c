// Work split over ranks without training: each rank takes every W-th batch of a source, and per-item results
// (rows of a table, NaN where a rank computed nothing) are merged into the table one process would have made.
import { fromBuffer } from '../tensor/creation.js';
import type { ProcessGroup } from './group.js';

/** The part of a batch source that splitting needs. */
export interface SplittableSource<B> {
  readonly length: number;
  readonly fingerprint: string;
  next(): B | null;
  position(): { epoch: number; batch: number };
  seek(p: { epoch: number; batch: number }): void;
}

/**
 * Batches `rank`, `rank + W`, `rank + 2W`, ... of `source` (the others are skipped and handed to `drop`), so every
 * batch is the one a single process forms, and each is computed by exactly one rank.
 */
export class RankBatches<B> implements SplittableSource<B> {
  #taken = 0;

  constructor(private readonly source: SplittableSource<B>, readonly rank: number, readonly worldSize: number, private readonly drop: (b: B) => void) {}

  get length(): number { return Math.max(0, Math.ceil((this.source.length - this.rank) / this.worldSize)); }
  get fingerprint(): string { return this.source.fingerprint; }
  position(): { epoch: number; batch: number } { return { epoch: this.source.position().epoch, batch: this.#taken }; }
  seek(p: { epoch: number; batch: number }): void {
    this.source.seek({ epoch: p.epoch, batch: p.batch === 0 ? 0 : this.rank + p.batch * this.worldSize });
    this.#taken = p.batch;
  }

  #skipTo(index: number): void {
    while (this.source.position().batch < index) {
      const b = this.source.next();
      if (b === null) return;
      this.drop(b);
    }
  }

  next(): B | null {
    this.#skipTo(this.rank + this.#taken * this.worldSize);
    const b = this.source.next();
    if (b !== null) this.#taken++;
    return b;
  }
}

/**
 * Every rank's `table` merged: for each entry the value of the rank that computed it (not NaN), NaN where none did;
 * as long as the longest table. A collective: every rank calls it with its own table.
 */
export function mergeTables(group: ProcessGroup, table: Float64Array): Float64Array {
  if (group.worldSize === 1) return table;
  const len = fromBuffer(new Float64Array([table.length]), { dtype: 'float64', shape: [1] });
  const lens = group.allgather(len);
  const n = Math.max(...(lens.toArray() as number[][]).map((x) => x[0]!));
  len.dispose();
  lens.dispose();
  const padded = new Float64Array(n).fill(Number.NaN);
  padded.set(table);
  const mine = fromBuffer(padded, { dtype: 'float64', shape: [n] });
  const all = group.allgather(mine);
  const rows = all.toArray() as number[][];
  mine.dispose();
  all.dispose();
  const out = new Float64Array(n).fill(Number.NaN);
  for (let i = 0; i < n; i++) {
    for (const row of rows) if (!Number.isNaN(row[i]!)) { out[i] = row[i]!; break; }
  }
  return out;
}
