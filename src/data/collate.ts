// Tokenized examples → padded batches as plain typed arrays (row-major), ready for one forward pass.
// Preference batches stack chosen rows first, then rejected rows: [2B, T], so one concatenated forward serves both.
import { Tensor, tensor, type Device } from '../tensor/index.js';
import type { TokenizedPair } from './tokenize.js';
import type { TokenizedSft } from './tokenize-sft.js';
import type { ExampleSource } from './types.js';

/** The label of positions that carry no loss (prompt and padding), as in PyTorch's cross-entropy. */
export const IGNORE_INDEX = -100;

/** A padded batch: every array is row-major with `shape` = [rows, seqLength]. */
export interface TokenBatch {
  shape: [number, number];
  /** [rows, T] token ids (padding uses the pad id). */
  inputIds: BigInt64Array;
  /** [rows, T] 1 on real tokens, 0 on padding. */
  attentionMask: BigInt64Array;
  /** [rows, T] the token id where a loss applies (answer tokens), IGNORE_INDEX elsewhere. Unshifted, like HF. */
  labels: BigInt64Array;
  /** Padded positions / all positions of this batch. */
  paddingRatio: number;
  sources: ExampleSource[];
}

/** A preference batch of B pairs: rows 0..B-1 chosen, rows B..2B-1 rejected. */
export interface PairBatch extends TokenBatch {
  pairs: number;
  /** [B] safety label of each chosen / rejected response. */
  isChosenSafe: Float32Array;
  isRejectedSafe: Float32Array;
}

/** Options of the collate functions. */
export interface CollateOptions {
  padTokenId: number;
  /** Round the width up to a multiple (e.g. 8 for tensor cores); default 1. */
  padToMultipleOf?: number;
}

function emptyBatch(rows: number, width: number, sources: ExampleSource[]): TokenBatch {
  return {
    shape: [rows, width], inputIds: new BigInt64Array(rows * width), attentionMask: new BigInt64Array(rows * width),
    labels: new BigInt64Array(rows * width).fill(BigInt(IGNORE_INDEX)), paddingRatio: 0, sources,
  };
}

function fillRow(b: TokenBatch, row: number, ids: Int32Array, learn: (i: number) => boolean, pad: bigint): void {
  const width = b.shape[1];
  const o = row * width;
  for (let i = 0; i < ids.length; i++) {
    const t = BigInt(ids[i]!);
    b.inputIds[o + i] = t;
    b.attentionMask[o + i] = 1n;
    if (learn(i)) b.labels[o + i] = t;
  }
  b.inputIds.fill(pad, o + ids.length, o + width);
}

function widthOf(lengths: number[], multiple: number): number {
  const max = Math.max(1, ...lengths);
  return Math.ceil(max / multiple) * multiple;
}

/**
 * Pads B tokenized pairs into one [2B, T] batch: chosen rows first, then rejected rows.
 *
 * @example
 * const batch = collatePairs(plan.epoch(0)[0].map((i) => pairs[i]), { padTokenId: tok.padTokenId ?? tok.eosTokenId });
 */
export function collatePairs(items: TokenizedPair[], opts: CollateOptions): PairBatch {
  const seqs = [...items.map((p) => p.chosen), ...items.map((p) => p.rejected)];
  const width = widthOf(seqs.map((s) => s.ids.length), opts.padToMultipleOf ?? 1);
  const b = emptyBatch(seqs.length, width, items.map((p) => p.source));
  const pad = BigInt(opts.padTokenId);
  let real = 0;
  seqs.forEach((s, row) => {
    fillRow(b, row, s.ids, (i) => i >= s.promptLength, pad);
    real += s.ids.length;
  });
  b.paddingRatio = 1 - real / (seqs.length * width);
  return {
    ...b, pairs: items.length,
    isChosenSafe: Float32Array.from(items, (p) => p.isChosenSafe),
    isRejectedSafe: Float32Array.from(items, (p) => p.isRejectedSafe),
  };
}

/** Pads tokenized SFT conversations into one [B, T] batch. */
export function collateSft(items: TokenizedSft[], opts: CollateOptions): TokenBatch {
  const width = widthOf(items.map((s) => s.ids.length), opts.padToMultipleOf ?? 1);
  const b = emptyBatch(items.length, width, items.map((s) => s.source));
  const pad = BigInt(opts.padTokenId);
  let real = 0;
  items.forEach((s, row) => {
    fillRow(b, row, s.ids, (i) => s.learn[i] === 1, pad);
    real += s.ids.length;
  });
  b.paddingRatio = 1 - real / (items.length * width);
  return b;
}

/** The batch length of a pair for bucketing: its longer sequence. */
export function pairLength(p: TokenizedPair): number {
  return Math.max(p.chosen.ids.length, p.rejected.ids.length);
}

/**
 * Turns a batch's typed arrays into int64 tensors (one copy each). The caller owns the tensors.
 *
 * @example
 * const t = batchTensors(batch); // t.inputIds: [2B, T] int64
 * try { ... } finally { for (const x of Object.values(t)) x.dispose(); }
 */
export function batchTensors(b: TokenBatch | PairBatch, device: Device = 'cpu'): { inputIds: Tensor; attentionMask: Tensor; labels: Tensor; isChosenSafe?: Tensor; isRejectedSafe?: Tensor } {
  const shape = [...b.shape];
  const out: { inputIds: Tensor; attentionMask: Tensor; labels: Tensor; isChosenSafe?: Tensor; isRejectedSafe?: Tensor } = {
    inputIds: tensor(b.inputIds, { shape, dtype: 'int64', device }),
    attentionMask: tensor(b.attentionMask, { shape, dtype: 'int64', device }),
    labels: tensor(b.labels, { shape, dtype: 'int64', device }),
  };
  if ('isChosenSafe' in b) {
    out.isChosenSafe = tensor(b.isChosenSafe, { shape: [b.pairs], dtype: 'float32', device }); // [B]
    out.isRejectedSafe = tensor(b.isRejectedSafe, { shape: [b.pairs], dtype: 'float32', device }); // [B]
  }
  return out;
}

/** Real (non-padding) tokens of a collated batch, counted on the host. */
export function hostTokens(b: TokenBatch | PairBatch): number {
  let n = 0;
  for (const m of b.attentionMask) if (m !== 0n) n++;
  return n;
}
