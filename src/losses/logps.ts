// Per-sequence log-probabilities of the label tokens, from a causal LM's logits.
import { expected } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { cat, full, onesLike, tidy, tokenLogProbs, where, zeros } from '../tensor/index.js';
import { IGNORE_INDEX } from '../data/collate.js';

/**
 * Sum (or mean, with `average`) over completion tokens of log p(label_t | tokens < t).
 * `logits` [batch, seq, vocab] predict the NEXT token, so logits at t are scored against labels at t+1.
 * The log-probs come from {@link tokenLogProbs}: one fused native op that reads the logits in their own dtype,
 * accumulates in float32 and keeps only the label column (its backward writes the logits' gradient once).
 *
 * @example
 * const logps = sequenceLogps(model.forward(ids).logits, labels); // [batch]
 */
export function sequenceLogps(logits: Tensor, labels: Tensor, { average = false } = {}): Tensor {
  if (logits.ndim !== 3) throw expected('logits of shape [batch, seq, vocab]', 'logits', logits);
  const [b, s] = logits.shape;
  if (labels.ndim !== 2 || labels.shape[0] !== b || labels.shape[1] !== s) {
    throw expected(`labels of shape [${b}, ${s}]`, 'labels', labels);
  }
  return tidy(() => {
    // Every position is scored against the next label (the last one against IGNORE_INDEX, masked out), so the logits
    // go to the op as the [batch * seq, vocab] view they already are, without a copy of the first seq-1 positions.
    const v = logits.shape[2];
    const next = cat([labels.narrow(1, 1, s - 1), full([b, 1], IGNORE_INDEX, { dtype: labels.dtype, device: labels.device })], 1); // [batch, seq]
    const mask = next.ne(IGNORE_INDEX); // [batch, seq]
    const safeTarget = where(mask, next, 0); // [batch, seq]
    const tokenLogps = tokenLogProbs(logits.reshape(b * s, v), safeTarget.flatten()).view(b, s).mul(mask); // [batch, seq]
    const total = tokenLogps.sum(1); // [batch]
    return average ? total.div(mask.sum(1).clamp(1, null)) : total;
  });
}

/**
 * The positions of a [batch, seq] label tensor whose logits are scored: position p of row r when labels[r, p + 1] is
 * not -100. Prompt and padding positions are left out, so a model can skip their output projection.
 */
export interface ScoredPositions {
  /** [n] int64 flat indices r * seq + p into the batch's positions, in row-major order. */
  rows: Tensor;
  /** [n] int64 the label each of those positions predicts. */
  targets: Tensor;
  /** [n] int64 the row (sequence) each position belongs to. */
  sequence: Tensor;
  /** Rows in the batch. */
  batch: number;
}

/**
 * The scored positions of `labels` [batch, seq] (see {@link ScoredPositions}).
 * @example const pos = scoredPositions(batch.labels); model.forward(ids, { rows: pos.rows }) // logits [n, vocab]
 */
export function scoredPositions(labels: Tensor): ScoredPositions {
  if (labels.ndim !== 2) throw expected('labels of shape [batch, seq]', 'labels', labels);
  const [b, s] = labels.shape;
  return tidy(() => {
    const next = labels.narrow(1, 1, s - 1); // [b, s-1] the label each position predicts
    const shifted = cat([next, full([b, 1], IGNORE_INDEX, { dtype: labels.dtype, device: labels.device })], 1).flatten(); // [b*s]
    const rows = shifted.ne(IGNORE_INDEX).nonzero().view(-1); // [n]
    return { rows, targets: shifted.indexSelect(0, rows), sequence: rows.floorDivide(s), batch: b };
  });
}

/**
 * {@link sequenceLogps} from the logits of the scored positions only: `logits` [n, vocab] for `pos.rows`, in that
 * order. Returns the per-row sum (or mean, with `average`) [batch]; a row without scored positions gets 0.
 *
 * @example
 * const pos = scoredPositions(labels);
 * const logps = packedSequenceLogps(model.forward(ids, { rows: pos.rows }).logits, pos); // [batch]
 */
export function packedSequenceLogps(logits: Tensor, pos: ScoredPositions, { average = false } = {}): Tensor {
  const n = pos.rows.shape[0];
  if (logits.ndim !== 2 || logits.shape[0] !== n) throw expected(`logits of shape [${n}, vocab] (one row per scored position)`, 'logits', logits);
  return tidy(() => {
    const tokenLogps = tokenLogProbs(logits, pos.targets); // [n] float32 (float64 for float64 logits)
    const zero = zeros([pos.batch], { dtype: tokenLogps.dtype, device: tokenLogps.device }); // [batch]
    const total = zero.scatterAdd(0, pos.sequence, tokenLogps); // [batch]
    if (!average) return total;
    const count = zero.scatterAdd(0, pos.sequence, onesLike(tokenLogps)); // [batch]
    return total.div(count.clamp(1, null));
  });
}

/** What a loss needs from a forward: per-row log-probs [rows] and each row's mean logit [rows]. */
export interface RowScores {
  logps: Tensor;
  logitsMean: Tensor;
}

/**
 * Per-row log-probs of a forward that was asked for the scored positions `pos` only: packed logits [n, vocab] when
 * the model honoured `rows` (and returned `logitsMean`), else its full logits [rows, seq, vocab].
 *
 * @example const { logps } = rowLogps(model.forward(ids, { rows: pos.rows }), labels, pos, false); // [rows]
 */
export function rowLogps(out: { logits: Tensor; logitsMean?: Tensor }, labels: Tensor, pos: ScoredPositions, average: boolean): RowScores {
  if (out.logits.ndim === 2 && out.logitsMean) return { logps: packedSequenceLogps(out.logits, pos, { average }), logitsMean: out.logitsMean };
  const logitsMean = noGrad(() => out.logits.mean(-1).mean(-1)); // [rows]
  return { logps: sequenceLogps(out.logits, labels, { average }), logitsMean };
}
