// The small interfaces the training loop works against: a causal LM, batches, a resumable batch source, reference
// strategies, step outputs and the training task.
import type { LossType, PreferenceOptions } from '../losses/preference.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AttentionGroup } from '../models/llama.js';
import { tidy } from '../tensor/scope.js';

/** What the steps pass to a model's forward: a padded batch (mask, rows) or a padding-free one (see pack-pairs.ts). */
export interface PackableForwardOptions {
  attentionMask?: Tensor;
  rows?: Tensor;
  positionIds?: Tensor;
  groups?: AttentionGroup[];
  rowWeights?: Tensor;
}

/** Any causal language model: `forward` returns next-token logits; parameters carry Hugging Face names. */
export interface CausalLM {
  /**
   * logits [batch, seq, vocab]. A model may honour `rows` ([n] int64 flat positions row * seq + position): then it
   * returns logits [n, vocab] for those positions only and `logitsMean` [batch] (each row's mean over every position
   * and vocabulary entry); one that ignores `rows` returns the full logits and the caller scores them itself.
   */
  forward(inputIds: Tensor, opts?: PackableForwardOptions): { logits: Tensor; logitsMean?: Tensor };
  /**
   * true: `forward` (and `forwardBackwardCheckpointed`) honour padding-free batches (`groups`, `positionIds`,
   * `rowWeights`), and the steps hand them such batches. Optional: a model without it gets padded batches.
   */
  paddingFree?: boolean;
  /** The model's sliding attention window, if any (padding-free masks apply it by position). */
  readonly config?: { slidingWindow: number | null };
  namedParameters(): [string, Tensor][];
  /**
   * Forward, `head(logits)` and backward of `lossScale * loss` with per-layer recomputation (gradient
   * checkpointing); returns the loss value. Optional: only models that support `gradient_checkpointing` have it.
   */
  forwardBackwardCheckpointed?(
    inputIds: Tensor, head: (logits: Tensor, extras: { logitsMean?: Tensor }) => Tensor,
    opts?: PackableForwardOptions & { lossScale?: number },
  ): number;
  /** Switches dropout on (training) or off. Optional: models without dropout may omit it. */
  train?(mode?: boolean): unknown;
}

/**
 * Chosen and rejected laid out for ONE concatenated forward: rows [0, B) are the chosen sequences, rows [B, 2B) the
 * rejected ones of the same pairs. Labels are -100 on prompt and padding tokens.
 */
export interface PreferenceBatch {
  inputIds: Tensor; // [2B, seq] int64
  attentionMask: Tensor; // [2B, seq]
  labels: Tensor; // [2B, seq] int64
  isChosenSafe: Tensor; // [B] float32 0/1
  isRejectedSafe: Tensor; // [B] float32 0/1
  /** Index of each pair in its dataset (keys of cached reference log-probs). */
  indices: number[];
  /** Reference log-probs carried in the batch (precomputed strategy); [B] each. */
  referenceChosenLogps?: Tensor;
  referenceRejectedLogps?: Tensor;
  /** This rank's share of the global batch times the world size (data parallel; 1 when absent). */
  weight?: number;
  /** Real (non-padding) tokens, counted when the batch was collated (saves a device read per step). */
  tokens?: number;
}

/** A supervised batch: labels are -100 where no loss is taken (prompt turns, padding). */
export interface SftBatch {
  inputIds: Tensor; // [B, seq] int64
  attentionMask: Tensor; // [B, seq]
  labels: Tensor; // [B, seq] int64
  /** This rank's share of the global batch times the world size (data parallel; 1 when absent). */
  weight?: number;
  /** Real (non-padding) tokens, counted when the batch was collated (saves a device read per step). */
  tokens?: number;
}

/** Where a batch source stands: the epoch (which fixes the shuffle) and the next batch within it. */
export interface SourcePosition {
  epoch: number;
  batch: number;
}

/**
 * Batches of one dataset, in a fixed order per epoch, restartable from any position. The caller owns each batch
 * it receives and disposes its tensors.
 */
export interface BatchSource<B> {
  /** Batches per epoch. */
  readonly length: number;
  /** A stable description of the data and tokenization settings (keys the reference log-prob cache). */
  readonly fingerprint: string;
  /** The next batch of the current epoch, or null when the epoch is over. */
  next(): B | null;
  position(): SourcePosition;
  seek(p: SourcePosition): void;
}

/** Which data a batch comes from (each has its own precomputed reference table). */
export type DataRole = 'train' | 'buffer' | 'eval';

/** Where a batch's reference log-probs come from. */
export interface ReferenceStrategy {
  readonly name: string;
  /** Reference log-probs of the chosen and rejected sequences, [B] each, without gradient. */
  logps(batch: PreferenceBatch, source: DataRole): { chosen: Tensor; rejected: Tensor };
}

/** The loss settings of a preference step. */
export interface PreferenceStepOptions extends PreferenceOptions {
  lossType: LossType;
  /** Average log-probs over completion tokens instead of summing them (not BFPO's convention). */
  averageLogps?: boolean;
}

/** A batch's scalar loss (with its autograd graph) and its metrics. */
export interface StepOutput {
  loss: Tensor; // [] scalar
  metrics: Record<string, number>;
  /** The loss's value when the head already read it (with the metrics, in one transfer). */
  lossValue?: number;
  /**
   * Deferred heads: the metrics and the loss (key '\u0000loss') as unread, detached 0-d tensors, which the caller
   * reads (in one transfer with the rest of its step, see StepReads) and frees; `metrics` is then empty.
   */
  pending?: [string, Tensor][];
}

/** A step whose backward already ran (gradient checkpointing): the loss value and the metrics. */
export interface BackwardStepOutput {
  loss: number;
  metrics: Record<string, number>;
  /** As in StepOutput: unread metrics of a deferred head, for the caller to read and free. */
  pending?: [string, Tensor][];
}

/** What the loop trains on: preference pairs (with reference and optional buffer) or SFT conversations. */
export type TrainingTask =
  | { kind: 'preference'; train: BatchSource<PreferenceBatch>; buffer?: BatchSource<PreferenceBatch>;
      eval?: BatchSource<PreferenceBatch>; reference: ReferenceStrategy; loss: PreferenceStepOptions;
      /** Log the buffer's metrics averaged into the main keys, as the original (see stepMetricRecords). */
      originalMetrics?: boolean }
  | { kind: 'sft'; train: BatchSource<SftBatch>; eval?: BatchSource<SftBatch> };

/** Frees every tensor of a batch. */
export function disposeBatch(b: PreferenceBatch | SftBatch): void {
  for (const v of Object.values(b)) if (v && typeof v === 'object' && 'dispose' in v) (v as Tensor).dispose();
}

/** Real (non-padding) tokens in a batch. */
export function batchTokens(b: PreferenceBatch | SftBatch): number {
  if (b.tokens !== undefined) return b.tokens;
  return tidy(() => b.attentionMask.sum().item());
}
