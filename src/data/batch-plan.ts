// Length-bucketed batch order: deterministic for (seed, epoch), resumable from any (epoch, batch) position.
// Each epoch shuffles the examples, sorts windows of `bucketSize` batches by length, cuts batches, then shuffles
// the batch order, so batches hold similar lengths (little padding) while the order stays random. Without length
// grouping it is a plain random sampler.
import { expected } from '../errors.js';
import { Prng } from './prng.js';

/** Options of {@link BatchPlan}. */
export interface BatchPlanOptions {
  batchSize: number;
  seed?: number;
  /** Batches per sorting window (default 50); 1 disables bucketing. */
  bucketSize?: number;
  /**
   * Length-bucketed batches (default true). false gives the plain random sampler of the original's trainer: one
   * permutation per epoch, cut into consecutive batches in that order (the last one smaller), no sorting.
   */
  groupByLength?: boolean;
  /** Drop the last, smaller batch of an epoch (default false). */
  dropLast?: boolean;
  /** Non-padding tokens per example (default: the lengths); for pairs, chosen + rejected tokens. */
  tokens?: ArrayLike<number>;
  /** Padded rows per example (default 1; 2 for pairs, whose chosen and rejected share the batch width). */
  rowsPerExample?: number;
}

/** A place in the data order: epoch and batch within it. */
export interface BatchPosition {
  epoch: number;
  batch: number;
}

/**
 * Plans the batches of every epoch from per-example lengths (for a pair: its longer sequence).
 *
 * @example
 * const plan = new BatchPlan(pairs.map(pairLength), { batchSize: 8, seed: 42, rowsPerExample: 2 });
 * for (const { indices, epoch, batch } of plan.iterate({ epoch: 0, batch: 120 })) ... // resume at batch 120
 */
export class BatchPlan {
  readonly lengths: Int32Array;
  private readonly opts: Required<Omit<BatchPlanOptions, 'tokens'>> & { tokens: ArrayLike<number> };
  private cache = new Map<number, number[][]>();

  constructor(lengths: ArrayLike<number>, opts: BatchPlanOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw expected('a positive integer', 'batchSize', opts.batchSize);
    if (lengths.length === 0) throw expected('at least one example', 'lengths', []);
    const bucketSize = opts.bucketSize ?? 50;
    if (!Number.isInteger(bucketSize) || bucketSize < 1) throw expected('a positive integer', 'bucketSize', bucketSize);
    this.lengths = Int32Array.from(lengths);
    this.opts = {
      batchSize: opts.batchSize, seed: opts.seed ?? 42, bucketSize, dropLast: opts.dropLast ?? false, groupByLength: opts.groupByLength ?? true,
      tokens: opts.tokens ?? this.lengths, rowsPerExample: opts.rowsPerExample ?? 1,
    };
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    const n = this.lengths.length, b = this.opts.batchSize;
    return this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** The batches (example indices) of one epoch; the same for the same seed and epoch. */
  epoch(epoch: number): number[][] {
    const hit = this.cache.get(epoch);
    if (hit) return hit;
    const { batchSize, bucketSize, dropLast, groupByLength } = this.opts;
    const rng = new Prng((BigInt(this.opts.seed) << 32n) + BigInt(epoch));
    const order = rng.shuffle(Array.from(this.lengths, (_, i) => i));
    const usable = dropLast ? order.length - (order.length % batchSize) : order.length;
    if (!groupByLength) {
      const plain: number[][] = [];
      for (let i = 0; i < usable; i += batchSize) plain.push(order.slice(i, Math.min(i + batchSize, usable)));
      return this.remember(epoch, plain);
    }
    const window = batchSize * bucketSize;
    const batches: number[][] = [];
    for (let w = 0; w < usable; w += window) {
      const part = order.slice(w, Math.min(w + window, usable));
      if (bucketSize > 1) part.sort((a, b) => this.lengths[b]! - this.lengths[a]! || a - b);
      for (let i = 0; i < part.length; i += batchSize) batches.push(part.slice(i, i + batchSize));
    }
    rng.shuffle(batches);
    return this.remember(epoch, batches);
  }

  private remember(epoch: number, batches: number[][]): number[][] {
    if (this.cache.size > 2) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(epoch, batches);
    return batches;
  }

  /**
   * Yields batches from `start` on, for `epochs` epochs in all counted from epoch 0 (default: forever, for a
   * buffer loader that restarts when exhausted).
   */
  *iterate(start: BatchPosition = { epoch: 0, batch: 0 }, epochs = Infinity): Generator<BatchPosition & { indices: number[] }> {
    for (let e = start.epoch; e < epochs; e++) {
      const batches = this.epoch(e);
      for (let b = e === start.epoch ? start.batch : 0; b < batches.length; b++) yield { epoch: e, batch: b, indices: batches[b]! };
    }
  }

  /** The position `steps` batches after `from` (for resuming from a step count). */
  advance(from: BatchPosition, steps: number): BatchPosition {
    const per = this.batchesPerEpoch;
    const flat = from.epoch * per + from.batch + steps;
    return { epoch: Math.floor(flat / per), batch: flat % per };
  }

  /** Fraction of padded positions over an epoch's batches (0 = no padding). */
  paddingRatio(epoch = 0): number {
    let real = 0, total = 0;
    for (const batch of this.epoch(epoch)) {
      let max = 0;
      for (const i of batch) {
        max = Math.max(max, this.lengths[i]!);
        real += this.opts.tokens[i]!;
      }
      total += max * batch.length * this.opts.rowsPerExample;
    }
    return total === 0 ? 0 : 1 - real / total;
  }
}
