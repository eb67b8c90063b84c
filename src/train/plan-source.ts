// Batch sources over tokenized data: a BatchPlan fixes the (length-bucketed) order of every epoch, and batches are
// collated on demand, so a source restarts at any (epoch, batch) position without replaying the data.
import { createHash } from 'node:crypto';
import { BatchPlan } from '../data/batch-plan.js';
import { batchTensors, collatePairs, collateSft, hostTokens, pairLength } from '../data/collate.js';
import type { Device } from '../tensor/dtype.js';
import type { TokenizedPair } from '../data/tokenize.js';
import type { TokenizedSft } from '../data/tokenize-sft.js';
import type { BatchSource, PreferenceBatch, SftBatch, SourcePosition } from './types.js';

export interface PlanSourceOptions {
  batchSize: number;
  seed: number;
  padTokenId: number;
  /** Keep the data order fixed (evaluation, reference pre-computation). */
  shuffle?: boolean;
  /** Length-bucketed batches (default true); false: plain random batches (see BatchPlanOptions.groupByLength). */
  groupByLength?: boolean;
  /**
   * Data parallel: `batchSize` is the global batch, and `next()` gives rank `rank` its contiguous slice of it
   * (a rank whose slice is empty gets the batch's first item with weight 0).
   */
  split?: { rank: number; worldSize: number };
  /** Where the batch tensors are created (default cpu): the training device, so no step copies them there. */
  device?: Device;
}

/** sha256 over every sequence's ids and label boundary: the data AND tokenization fingerprint. */
function fingerprintOf(parts: (Int32Array | number)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'number' ? `${p};` : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  return h.digest('hex');
}

abstract class PlanSource<I, B> implements BatchSource<B> {
  readonly plan: BatchPlan;
  #pos: SourcePosition = { epoch: 0, batch: 0 };
  #fingerprint: string | null = null;

  constructor(readonly items: I[], lengths: number[], readonly opts: PlanSourceOptions, rowsPerExample: number) {
    this.plan = new BatchPlan(lengths, {
      batchSize: opts.batchSize, seed: opts.seed, rowsPerExample, bucketSize: opts.shuffle === false ? 1 : undefined, groupByLength: opts.groupByLength,
    });
  }
  get length(): number { return this.plan.batchesPerEpoch; }
  get fingerprint(): string { return (this.#fingerprint ??= this.computeFingerprint()); }
  position(): SourcePosition { return { ...this.#pos }; }
  seek(p: SourcePosition): void { this.#pos = { ...p }; }
  protected abstract computeFingerprint(): string;
  protected abstract collate(indices: number[]): B;
  /** What the loss averages over in a batch of these items (pairs; SFT overrides it with target tokens). */
  protected lossUnits(indices: number[]): number { return indices.length; }
  /** The item indices of one batch, as training (or evaluation, unshuffled) reads them. */
  batchIndices(epoch: number, batch: number): number[] {
    return this.opts.shuffle === false
      ? Array.from({ length: Math.min(this.opts.batchSize, this.items.length - batch * this.opts.batchSize) }, (_, i) => batch * this.opts.batchSize + i)
      : this.plan.epoch(epoch)[batch]!;
  }
  /** Every item index of an epoch in the order its batches are read. */
  itemOrder(epoch = 0): number[] {
    return Array.from({ length: this.length }, (_, b) => this.batchIndices(epoch, b)).flat();
  }
  next(): B | null {
    if (this.#pos.batch >= this.length) return null;
    const indices = this.batchIndices(this.#pos.epoch, this.#pos.batch);
    this.#pos.batch += 1;
    const split = this.opts.split;
    if (!split || split.worldSize === 1) return this.collate(indices);
    const n = indices.length;
    const mine = indices.slice(Math.floor((split.rank * n) / split.worldSize), Math.floor(((split.rank + 1) * n) / split.worldSize));
    const batch = this.collate(mine.length > 0 ? mine : indices.slice(0, 1));
    const all = this.lossUnits(indices);
    (batch as { weight?: number }).weight = all > 0 ? (this.lossUnits(mine) * split.worldSize) / all : mine.length > 0 ? 1 : 0;
    return batch;
  }
}

/**
 * Preference pairs, chosen rows then rejected rows in one batch.
 * @example const source = new PairPlanSource(pairs, { batchSize: 8, seed: 42, padTokenId: tok.eosTokenId });
 */
export class PairPlanSource extends PlanSource<TokenizedPair, PreferenceBatch> {
  constructor(items: TokenizedPair[], opts: PlanSourceOptions) {
    super(items, items.map(pairLength), opts, 2);
  }
  protected computeFingerprint(): string {
    return fingerprintOf(this.items.flatMap((p) => [p.chosen.ids, p.chosen.promptLength, p.rejected.ids, p.rejected.promptLength, p.isChosenSafe, p.isRejectedSafe]));
  }
  protected collate(indices: number[]): PreferenceBatch {
    const c = collatePairs(indices.map((i) => this.items[i]), { padTokenId: this.opts.padTokenId });
    const t = batchTensors(c, this.opts.device);
    return { inputIds: t.inputIds, attentionMask: t.attentionMask, labels: t.labels, isChosenSafe: t.isChosenSafe!, isRejectedSafe: t.isRejectedSafe!, indices, tokens: hostTokens(c) };
  }
}

/** SFT conversations. */
export class SftPlanSource extends PlanSource<TokenizedSft, SftBatch> {
  constructor(items: TokenizedSft[], opts: PlanSourceOptions) {
    super(items, items.map((s) => s.ids.length), opts, 1);
  }
  protected computeFingerprint(): string {
    return fingerprintOf(this.items.flatMap((s) => [s.ids, Int32Array.from(s.learn)]));
  }
  /** The loss is the mean over target tokens: positions after the first whose token is learned. */
  protected override lossUnits(indices: number[]): number {
    let n = 0;
    for (const i of indices) {
      const learn = this.items[i]!.learn;
      for (let t = 1; t < learn.length; t++) if (learn[t] === 1) n++;
    }
    return n;
  }
  protected collate(indices: number[]): SftBatch {
    const c = collateSft(indices.map((i) => this.items[i]), { padTokenId: this.opts.padTokenId });
    const t = batchTensors(c, this.opts.device);
    return { inputIds: t.inputIds, attentionMask: t.attentionMask, labels: t.labels, tokens: hostTokens(c) };
  }
}
