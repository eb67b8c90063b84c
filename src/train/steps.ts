// The loss of one batch: preference pairs (one concatenated forward of chosen and rejected) or SFT conversations.
import { IGNORE_INDEX } from '../data/collate.js';
import { sequenceLogps } from '../losses/logps.js';
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
    const { logits } = model.forward(batch.inputIds, { attentionMask: batch.attentionMask }); // [2B, seq, vocab]
    return preferenceHead(logits, batch, reference, o, source);
  });
}

/** The preference loss and metrics from the logits of the concatenated forward. */
function preferenceHead(
  logits: Tensor, batch: PreferenceBatch, reference: ReferenceStrategy, o: PreferenceStepOptions, source: DataRole,
): StepOutput {
  const b = batch.isChosenSafe.shape[0];
  const logps = sequenceLogps(logits, batch.labels, { average: o.averageLogps ?? false }); // [2B]
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
  const metrics = noGrad(() => preferenceMetrics(out, inputs, {
    chosenLogitsMean: logits.narrow(0, 0, b).mean().item(),
    rejectedLogitsMean: logits.narrow(0, b, b).mean().item(),
  }));
  return { loss, metrics };
}

/**
 * Token-mean cross entropy of the next token over positions whose label is not -100.
 * @example const { loss } = sftStep(model, batch);
 */
export function sftStep(model: CausalLM, batch: SftBatch): StepOutput {
  return tidy(() => {
    const { logits } = model.forward(batch.inputIds, { attentionMask: batch.attentionMask }); // [B, seq, vocab]
    return { loss: sftLoss(logits, batch.labels), metrics: {} };
  });
}

/** Next-token cross entropy of logits [B, seq, vocab] against labels [B, seq] (-100 ignored). */
function sftLoss(logits: Tensor, labels: Tensor): Tensor {
  const [bsz, s, v] = logits.shape;
  const next = logits.narrow(1, 0, s - 1).reshape([bsz * (s - 1), v]); // [B*(seq-1), vocab]
  const target = labels.narrow(1, 1, s - 1).reshape([bsz * (s - 1)]); // [B*(seq-1)]
  return crossEntropy(next.dtype === 'float32' ? next : next.float(), target, { ignoreIndex: IGNORE_INDEX });
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
  const loss = run(batch.inputIds, (logits) => {
    const out = preferenceHead(logits, batch, reference, o, source);
    metrics = out.metrics;
    return out.loss;
  }, { attentionMask: batch.attentionMask, lossScale });
  return { loss, metrics };
}

/**
 * `sftStep` with per-layer gradient checkpointing: runs forward AND backward of `lossScale * loss`.
 * @example const { loss } = sftStepCheckpointed(model, batch, 1 / accum);
 */
export function sftStepCheckpointed(model: CausalLM, batch: SftBatch, lossScale: number): BackwardStepOutput {
  const loss = checkpointed(model)(batch.inputIds, (logits) => sftLoss(logits, batch.labels), { attentionMask: batch.attentionMask, lossScale });
  return { loss, metrics: {} };
}
