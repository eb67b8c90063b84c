// One step runner for every training task: a forward of one batch (plain, or with per-layer gradient checkpointing)
// and the task's loss head (preference pairs through one concatenated forward, or SFT cross entropy).
import { IGNORE_INDEX } from '../data/collate.js';
import { rowLogps, scoredPositions, type ScoredPositions } from '../losses/logps.js';
import { dropEmptyGroups, preferenceMetricTensors, readScalars } from '../losses/metrics.js';
import { LOSS_KEY } from './step-reads.js';
import { preferenceLoss } from '../losses/preference.js';
import { noGrad } from '../tensor/autograd.js';
import { ArgumentError } from '../errors.js';
import { crossEntropy } from '../tensor/functional.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { disposePacked, packFor, type PackedInput } from './pack-pairs.js';
import type {
  BackwardStepOutput, BatchSource, CausalLM, DataRole, PreferenceBatch, PreferenceStepOptions, ReferenceStrategy, SftBatch,
  StepOutput, TrainingTask,
} from './types.js';

export type { BackwardStepOutput, PreferenceStepOptions, StepOutput } from './types.js';

/** The token tensors every batch has: ids, mask and labels (-100 where no loss is taken), [rows, seq] each. */
export interface StepBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
  labels: Tensor;
  /** A data-parallel rank's share of the global batch times the world size (1 when absent). */
  weight?: number;
}

/** A forward's output: packed logits [n, vocab] with `logitsMean` [rows] when the model honoured `rows`, else [rows, seq, vocab]. */
export interface ForwardOutput {
  logits: Tensor;
  logitsMean?: Tensor;
}

/** A task's loss and metrics from the forward output of `batch` at its scored positions `pos`. */
export type StepHead<B extends StepBatch> = (out: ForwardOutput, batch: B, pos: ScoredPositions) => StepOutput;

/** How a step runs: plain (the caller runs backward), or checkpointed (forward AND backward of `lossScale * loss`). */
export interface StepRunOptions {
  checkpointed?: boolean;
  /** Scale of the loss whose backward a checkpointed step runs (1 / accumulation steps). Default 1. */
  lossScale?: number;
}

/**
 * Runs one batch through `model` and `head`. Plain: returns the loss with its autograd graph. With `checkpointed`:
 * recomputes each decoder layer in the backward pass, runs the backward of `lossScale * loss` and returns its value.
 *
 * @example const { loss } = runStep(model, batch, sftHead); // loss [] with graph
 * @example const { loss } = runStep(model, batch, sftHead, { checkpointed: true, lossScale: 1 / accum }); // number
 */
export function runStep<B extends StepBatch>(model: CausalLM, batch: B, head: StepHead<B>, o: { checkpointed: true; lossScale?: number }): BackwardStepOutput;
export function runStep<B extends StepBatch>(model: CausalLM, batch: B, head: StepHead<B>, o?: { checkpointed?: false }): StepOutput;
export function runStep<B extends StepBatch>(model: CausalLM, batch: B, head: StepHead<B>, o?: StepRunOptions): StepOutput | BackwardStepOutput;
export function runStep<B extends StepBatch>(model: CausalLM, batch: B, head: StepHead<B>, o: StepRunOptions = {}): StepOutput | BackwardStepOutput {
  const pairs = 'isChosenSafe' in batch ? (batch.isChosenSafe as Tensor).shape[0] : null;
  if (!o.checkpointed) {
    return tidy(() => {
      const pos = scoredPositions(batch.labels);
      const packed = packFor(model, batch, pos, pairs);
      const out = packed // [n, vocab] or [rows, seq, vocab]
        ? model.forward(packed.inputIds, { positionIds: packed.positionIds, groups: packed.groups, rows: packed.rows, rowWeights: packed.rowWeights })
        : model.forward(batch.inputIds, { attentionMask: batch.attentionMask, rows: pos.rows });
      return head(out, batch, pos);
    });
  }
  const run = checkpointedPass(model);
  let metrics: Record<string, number> = {};
  let pending: [string, Tensor][] | undefined;
  const pos = scoredPositions(batch.labels);
  let packed: PackedInput | null = null;
  try {
    packed = packFor(model, batch, pos, pairs);
    const headFn = (logits: Tensor, extras: { logitsMean?: Tensor }): Tensor => {
      const out = head({ logits, ...extras }, batch, pos);
      metrics = out.metrics;
      // Unread values outlive the model's scope; the caller reads and frees them.
      pending = out.pending?.map(([k, t]) => [k, keep(t)]);
      return out.loss;
    };
    const scale = o.lossScale ?? 1;
    const loss = packed
      ? run(packed.inputIds, headFn, { positionIds: packed.positionIds, groups: packed.groups, rows: packed.rows, rowWeights: packed.rowWeights, lossScale: scale })
      : run(batch.inputIds, headFn, { attentionMask: batch.attentionMask, lossScale: scale, rows: pos.rows });
    return pending ? { loss, metrics, pending } : { loss, metrics };
  } finally {
    disposePacked(packed);
    pos.rows.dispose();
    pos.targets.dispose();
    pos.sequence.dispose();
  }
}

/** The model's checkpointed forward/backward, or an error naming what is missing. */
function checkpointedPass(model: CausalLM): NonNullable<CausalLM['forwardBackwardCheckpointed']> {
  if (!model.forwardBackwardCheckpointed) {
    throw new ArgumentError('gradient_checkpointing needs a model with forwardBackwardCheckpointed (LlamaForCausalLM has it)');
  }
  return model.forwardBackwardCheckpointed.bind(model);
}

/**
 * The preference head: chosen rows [0, B) and rejected rows [B, 2B) of one concatenated forward; `source` selects the
 * reference table when log-probs are precomputed.
 */
export function preferenceHead(reference: ReferenceStrategy, o: PreferenceStepOptions, source: DataRole, defer = false): StepHead<PreferenceBatch> {
  return (out, batch, pos) => {
    const { logps, logitsMean } = rowLogps(out, batch.labels, pos, o.averageLogps ?? false); // [2B] each
    const b = batch.isChosenSafe.shape[0];
    const ref = batch.referenceChosenLogps && batch.referenceRejectedLogps
      ? { chosen: batch.referenceChosenLogps, rejected: batch.referenceRejectedLogps }
      : reference.logps(batch, source);
    const inputs = {
      policyChosenLogps: logps.narrow(0, 0, b), policyRejectedLogps: logps.narrow(0, b, b),
      referenceChosenLogps: ref.chosen, referenceRejectedLogps: ref.rejected,
      isChosenSafe: batch.isChosenSafe, isRejectedSafe: batch.isRejectedSafe,
    };
    const result = preferenceLoss(o.lossType, inputs, o);
    const loss = result.losses.mean();
    // Padded: every row has the same length, so the mean of the rows' means is the mean over all their logits.
    // Padding-free: the mean of each row's mean over its real tokens. The metrics and the loss's value come to the
    // host in one transfer.
    const values = noGrad((): [string, Tensor][] => [
      ...preferenceMetricTensors(result, inputs, { chosenLogitsMean: logitsMean.narrow(0, 0, b).mean(), rejectedLogitsMean: logitsMean.narrow(0, b, b).mean() }),
      [LOSS_KEY, loss.detach()],
    ]);
    // Deferred: the caller reads them later, with the rest of its step (see StepReads).
    if (defer) return { loss, metrics: {}, pending: values };
    const { [LOSS_KEY]: lossValue, ...metrics } = dropEmptyGroups(readScalars(values));
    return { loss, metrics, lossValue };
  };
}

/** The SFT head: token-mean next-token cross entropy over positions whose label is not -100. */
export const sftHead: StepHead<SftBatch> = (out, batch, pos) => {
  const float = (x: Tensor): Tensor => (x.dtype === 'float32' ? x : x.float());
  const { logits } = out;
  if (logits.ndim === 2) return { loss: crossEntropy(float(logits), pos.targets, { ignoreIndex: IGNORE_INDEX }), metrics: {} };
  const [bsz, s, v] = logits.shape;
  const next = logits.narrow(1, 0, s - 1).reshape([bsz * (s - 1), v]); // [B*(seq-1), vocab]
  const target = batch.labels.narrow(1, 1, s - 1).reshape([bsz * (s - 1)]); // [B*(seq-1)]
  return { loss: crossEntropy(float(next), target, { ignoreIndex: IGNORE_INDEX }), metrics: {} };
};

/** What the loop needs of a task: its loss head per data role and the buffer data trained beside each main batch. */
export interface TaskSteps {
  head(role: DataRole): StepHead<StepBatch>;
  /** Preference tasks' buffer data (its loss is added to each micro-batch's), or null. */
  buffer: BatchSource<StepBatch> | null;
}

/**
 * The steps of a training task: the one place that tells an SFT task from a preference task.
 * @example const steps = taskSteps(task); const out = runStep(model, batch, steps.head('eval'));
 */
export function taskSteps(task: TrainingTask, o: { deferReads?: boolean } = {}): TaskSteps {
  if (task.kind === 'sft') return { head: () => sftHead as StepHead<StepBatch>, buffer: null };
  const { reference, loss, buffer } = task;
  return { head: (role) => preferenceHead(reference, loss, role, o.deferReads ?? false) as StepHead<StepBatch>, buffer: buffer ?? null };
}

/**
 * Loss and metrics of a preference batch: chosen rows [0, B) and rejected rows [B, 2B) go through ONE forward.
 * @example const { loss, metrics } = preferenceStep(model, batch, reference, { lossType: 'bfpo', beta: 0.01 });
 */
export function preferenceStep(
  model: CausalLM, batch: PreferenceBatch, reference: ReferenceStrategy, o: PreferenceStepOptions, source: DataRole = 'train',
): StepOutput {
  return runStep(model, batch, preferenceHead(reference, o, source));
}

/**
 * `preferenceStep` with per-layer gradient checkpointing: runs forward AND backward of `lossScale * loss`.
 * @example const { loss } = preferenceStepCheckpointed(model, batch, reference, { lossType: 'bfpo', beta: 0.01 }, 'train', 1 / accum);
 */
export function preferenceStepCheckpointed(
  model: CausalLM, batch: PreferenceBatch, reference: ReferenceStrategy, o: PreferenceStepOptions, source: DataRole, lossScale: number,
): BackwardStepOutput {
  return runStep(model, batch, preferenceHead(reference, o, source), { checkpointed: true, lossScale });
}

/**
 * Token-mean cross entropy of the next token over positions whose label is not -100.
 * @example const { loss } = sftStep(model, batch);
 */
export function sftStep(model: CausalLM, batch: SftBatch): StepOutput {
  return runStep(model, batch, sftHead);
}

/**
 * `sftStep` with per-layer gradient checkpointing: runs forward AND backward of `lossScale * loss`.
 * @example const { loss } = sftStepCheckpointed(model, batch, 1 / accum);
 */
export function sftStepCheckpointed(model: CausalLM, batch: SftBatch, lossScale: number): BackwardStepOutput {
  return runStep(model, batch, sftHead, { checkpointed: true, lossScale });
}
