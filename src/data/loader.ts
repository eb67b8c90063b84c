// Loaders: tokenized examples + a length-bucketed BatchPlan + collation, as one resumable stream of batches.
// The main loader runs `epochs` epochs; a buffer loader runs with no epoch limit and restarts when exhausted.
import { BatchPlan, type BatchPlanOptions, type BatchPosition } from './batch-plan.js';
import { collatePairs, collateSft, pairLength, type PairBatch, type TokenBatch } from './collate.js';
import type { TokenizedPair } from './tokenize.js';
import type { TokenizedSft } from './tokenize-sft.js';

/** Options of the loaders: the plan's options plus padding. */
export interface LoaderOptions extends Omit<BatchPlanOptions, 'tokens' | 'rowsPerExample'> {
  padTokenId: number;
  padToMultipleOf?: number;
}

/** A batch with the position it was taken from (store `next` in a checkpoint to resume after it). */
export interface Positioned<B> {
  batch: B;
  position: BatchPosition;
  next: BatchPosition;
}

/** A resumable stream of batches over tokenized examples. */
export class BatchLoader<T, B> {
  readonly plan: BatchPlan;

  constructor(readonly items: readonly T[], plan: BatchPlan, private readonly collate: (items: T[]) => B) {
    this.plan = plan;
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    return this.plan.batchesPerEpoch;
  }

  /**
   * Batches from `start` (default the beginning) until `epochs` epochs are done (default: forever).
   *
   * @example
   * for (const { batch, next } of loader.batches(checkpoint?.dataPosition, 1)) { step(batch); position = next; }
   */
  *batches(start: BatchPosition = { epoch: 0, batch: 0 }, epochs = Infinity): Generator<Positioned<B>> {
    for (const { epoch, batch, indices } of this.plan.iterate(start, epochs)) {
      const position = { epoch, batch };
      yield { batch: this.collate(indices.map((i) => this.items[i]!)), position, next: this.plan.advance(position, 1) };
    }
  }
}

/**
 * A loader of preference batches ([2B, T], chosen rows then rejected rows).
 *
 * @example
 * const loader = pairLoader(pairs, { batchSize: 2, seed: 42, padTokenId: tok.padTokenId ?? tok.eosTokenId });
 * console.log(`padding ${loader.plan.paddingRatio()}`);
 */
export function pairLoader(pairs: readonly TokenizedPair[], opts: LoaderOptions): BatchLoader<TokenizedPair, PairBatch> {
  const plan = new BatchPlan(pairs.map(pairLength), {
    ...opts, rowsPerExample: 2, tokens: pairs.map((p) => p.chosen.ids.length + p.rejected.ids.length),
  });
  return new BatchLoader(pairs, plan, (items) => collatePairs(items, opts));
}

/** A loader of SFT batches ([B, T]). */
export function sftLoader(items: readonly TokenizedSft[], opts: LoaderOptions): BatchLoader<TokenizedSft, TokenBatch> {
  const plan = new BatchPlan(items.map((s) => s.ids.length), opts);
  return new BatchLoader(items, plan, (batch) => collateSft(batch, opts));
}
