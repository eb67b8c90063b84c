// The loss of one batch: preference pairs (one concatenated forward of chosen and rejected) or SFT conversations.
import { IGNORE_INDEX } from '../data/collate.js';
import { packedSequenceLogps, scoredPositions, sequenceLogps, type ScoredPositions } from '../losses/logps.js';
import { preferenceMetrics } from '../losses/metrics.js';
import { preferenceLoss, type LossType, type PreferenceOptions } from '../losses/preference.js';
import { noGrad } from '../tensor/autograd.js';
import { ArgumentError } from '../tensor/errors.js';
import { crossEntropy } from '../tensor/functional.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DataRole, ReferenceStrategy } from './reference.js';
import type { CausalLM, PreferenceBatch, SftBatch } from './types.js';

/** A batch's scalar loss (with its autograd graph) and its metrics. */
export interface StepOutput {
  loss: Tensor; // [] scalar
  metrics: Record<string, number>;
}

export interface PreferenceStepOptions extends PreferenceOptions {
  lossType: LossType;
  /** Average log-probs over completion tokens instead of summing them (not BFPO's convention). */
  averageLogps?: boolean;
}

/**
 * Loss and metrics of a preference batch: chosen rows [0, B) and rejected rows [B, 2B) go through ONE forward.
 * `source` selects the reference table when log-probs are precomputed.
 *
 * @example const { loss, metrics } = preferenceStep(model, batch, reference, { lossType: 'bfpo', beta: 0.01 });
 */
export function preferenceStep(
  model: CausalLM, batch: PreferenceBatch, reference: ReferenceStrategy, o: PreferenceStepOptions, source: DataRole = 'train',
): StepOutput {
  return tidy(() => {
    const pos = scoredPositions(batch.labels);
    const out = model.forward(batch.inputIds, { attentionMask: batch.attentionMask, rows: pos.rows }); // [n, vocab] or [2B, seq, vocab]
    return preferenceHead(rowLogps(out, batch.labels, pos, o.averageLogps ?? false), batch, reference, o, source);
  });
}

/** What the loss needs from a forward: per-row log-probs [rows] and each row's mean logit [rows]. */
export interface RowScores {
  logps: Tensor;
  logitsMean: Tensor;
}

/**
 * Per-row log-probs of a forward that was asked for the scored positions `pos` only: packed logits [n, vocab] when
 * the model honoured `rows`, else its full logits [rows, seq, vocab].
 */
export function rowLogps(out: { logits: Tensor; logitsMean?: Tensor }, labels: Tensor, pos: ScoredPositions, average: boolean): RowScores {
  if (out.logits.ndim === 2 && out.logitsMean) return { logps: packedSequenceLogps(out.logits, pos, { average }), logitsMean: out.logitsMean };
  const logitsMean = noGrad(() => out.logits.mean(-1).mean(-1)); // [rows]
  return { logps: sequenceLogps(out.logits, labels, { average }), logitsMean };
}

/** The preference loss and metrics from the per-row log-probs of the concatenated forward. */
function preferenceHead(
  scores: RowScores, batch: PreferenceBatch, reference: ReferenceStrategy, o: PreferenceStepOptions, source: DataRole,
): StepOutput {
  const b = batch.isChosenSafe.shape[0];
  const { logps, logitsMean } = scores; // [2B] each
  const ref = batch.referenceChosenLogps && batch.referenceRejectedLogps
    ? { chosen: batch.referenceChosenLogps, rejected: batch.referenceRejectedLogps }
    : reference.logps(batch, source);
  const inputs = {
    policyChosenLogps: logps.narrow(0, 0, b), policyRejectedLogps: logps.narrow(0, b, b),
    referenceChosenLogps: ref.chosen, referenceRejectedLogps: ref.rejected,
    isChosenSafe: batch.isChosenSafe, isRejectedSafe: batch.isRejectedSafe,
  };
  const out = preferenceLoss(o.lossType, inputs, o);
  const loss = out.losses.mean();
  // Every row has the same length, so the mean of the rows' means is the mean over all their logits.
  const metrics = noGrad(() => preferenceMetrics(out, inputs, {
    chosenLogitsMean: logitsMean.narrow(0, 0, b).mean().item(),
    rejectedLogitsMean: logitsMean.narrow(0, b, b).mean().item(),
  }));
  return { loss, metrics };
}

/**
 * Token-mean cross entropy of the next token over positions whose label is not -100.
 * @example const { loss } = sftStep(model, batch);
 */
export function sftStep(model: CausalLM, batch: SftBatch): StepOutput {
  return tidy(() => {
    const pos = scoredPositions(batch.labels);
    const { logits } = model.forward(batch.inputIds, { attentionMask: batch.attentionMask, rows: pos.rows }); // [n, vocab] or [B, seq, vocab]
    return { loss: sftLoss(logits, batch.labels, pos), metrics: {} };
  });
}

/** Next-token cross entropy (-100 ignored) of packed logits [n, vocab] at `pos`, or of full logits [B, seq, vocab]. */
function sftLoss(logits: Tensor, labels: Tensor, pos: ScoredPositions): Tensor {
  const float = (x: Tensor): Tensor => (x.dtype === 'float32' ? x : x.float());
  if (logits.ndim === 2) return crossEntropy(float(logits), pos.targets, { ignoreIndex: IGNORE_INDEX });
  const [bsz, s, v] = logits.shape;
  const next = logits.narrow(1, 0, s - 1).reshape([bsz * (s - 1), v]); // [B*(seq-1), vocab]
  const target = labels.narrow(1, 1, s - 1).reshape([bsz * (s - 1)]); // [B*(seq-1)]
  return crossEntropy(float(next), target, { ignoreIndex: IGNORE_INDEX });
}

/** A step whose backward already ran (gradient checkpointing): the loss value and the metrics. */
export interface BackwardStepOutput {
  loss: number;
  metrics: Record<string, number>;
}

/** The model's checkpointed forward/backward, or an error naming what is missing. */
function checkpointed(model: CausalLM): NonNullable<CausalLM['forwardBackwardCheckpointed']> {
  if (!model.forwardBackwardCheckpointed) {
    throw new ArgumentError('gradient_checkpointing needs a model with forwardBackwardCheckpointed (LlamaForCausalLM has it)');
  }
  return model.forwardBackwardCheckpointed.bind(model);
}

/**
 * `preferenceStep` with per-layer gradient checkpointing: runs forward AND backward of `lossScale * loss`.
 * @example const { loss } = preferenceStepCheckpointed(model, batch, reference, { lossType: 'bfpo', beta: 0.01 }, 'train', 1 / accum);
 */
export function preferenceStepCheckpointed(
  model: CausalLM, batch: PreferenceBatch, reference: ReferenceStrategy, o: PreferenceStepOptions, source: DataRole, lossScale: number,
): BackwardStepOutput {
  const run = checkpointed(model);
  let metrics: Record<string, number> = {};
  const pos = scoredPositions(batch.labels);
  try {
    const loss = run(batch.inputIds, (logits, extras) => {
      const out = preferenceHead(rowLogps({ logits, ...extras }, batch.labels, pos, o.averageLogps ?? false), batch, reference, o, source);
      metrics = out.metrics;
      return out.loss;
    }, { attentionMask: batch.attentionMask, lossScale, rows: pos.rows });
    return { loss, metrics };
  } finally {
    disposePositions(pos);
  }
}

/**
 * `sftStep` with per-layer gradient checkpointing: runs forward AND backward of `lossScale * loss`.
 * @example const { loss } = sftStepCheckpointed(model, batch, 1 / accum);
 */
export function sftStepCheckpointed(model: CausalLM, batch: SftBatch, lossScale: number): BackwardStepOutput {
  const pos = scoredPositions(batch.labels);
  try {
    const loss = checkpointed(model)(batch.inputIds, (logits) => sftLoss(logits, batch.labels, pos), { attentionMask: batch.attentionMask, lossScale, rows: pos.rows });
    return { loss, metrics: {} };
  } finally {
    disposePositions(pos);
  }
}

function disposePositions(pos: ScoredPositions): void {
  pos.rows.dispose();
  pos.targets.dispose();
  pos.sequence.dispose();
}
