// What a preference loss is to the registry: its formula over the log-ratio margins, the hyper-parameters it reads
// (with their defaults, checks and docs), whether it needs safety labels, and where it comes from.
import { expected } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** The hyper-parameters a preference loss may read. */
export interface PreferenceOptions {
  /** KL strength (tau in the BFPO paper). Default 0.1. */
  beta?: number;
  /** BFPO: the safety reward scale b1 (> 1). Default 3. */
  b1?: number;
  /** BFPO: the offset alpha. Default 0.5. */
  alpha?: number;
  /** sigmoid: label smoothing eps in [0, 0.5]. Default 0. */
  labelSmoothing?: number;
}

export type LossParamName = keyof PreferenceOptions;

/** One hyper-parameter: its recipe key, default, check and doc. */
export interface LossParam {
  /** The recipe key (snake_case) that sets it; also the name in error messages. */
  key: string;
  default: number;
  /** Throws (naming `key` and the allowed values) when `value` is out of range. */
  check(value: number): void;
  doc: string;
  /** A value other than the default is an error for a loss that does not read it (rather than silently unused). */
  refuseWhereUnread?: boolean;
}

/** Safety labels (0 or 1) of the chosen and rejected responses, in the dtype of the margins, [batch] each. */
export interface SafetyLabelPair {
  chosen: Tensor;
  rejected: Tensor;
}

/** A preference loss. `fn` gets the margins and returns the per-pair losses (all in one `tidy`). */
export interface LossSpec {
  name: string;
  /** The loss reads `isChosenSafe` / `isRejectedSafe` (they are checked before `fn` runs). */
  needsSafetyLabels: boolean;
  /** The hyper-parameters it reads; the others keep their defaults and are not checked. */
  params: Partial<Record<LossParamName, LossParam>>;
  /** Paper and equation. */
  citation: string;
  /** The formula, one line, for docs. */
  doc: string;
  /**
   * Per-pair losses ([batch], or [2 * batch] for a loss that scores each response apart).
   * `h = lc - lr`; `lc` and `lr` are the chosen and rejected log-ratios (policy minus reference), [batch] each;
   * `labels` is present when `needsSafetyLabels`.
   */
  fn(h: Tensor, lc: Tensor, lr: Tensor, labels: SafetyLabelPair | undefined, options: Required<PreferenceOptions>): Tensor;
}

/** The hyper-parameters every loss may read, with the defaults of the original recipes. */
export const LOSS_PARAMS: Readonly<Record<LossParamName, LossParam>> = {
  beta: {
    key: 'beta', default: 0.1, doc: 'KL strength (tau of the BFPO paper).',
    check: (v) => { if (!(Number.isFinite(v) && v > 0)) throw expected('a number > 0', 'beta', v); },
  },
  b1: {
    key: 'b1', default: 3, doc: 'Safety reward scale b1 (> 1).',
    check: (v) => { if (!(Number.isFinite(v) && v > 1)) throw expected('a number > 1 (b3 = 1 / (b1 - 1))', 'b1', v); },
  },
  alpha: {
    key: 'alpha', default: 0.5, doc: 'Offset alpha.',
    check: (v) => { if (!Number.isFinite(v)) throw expected('a finite number', 'alpha', v); },
  },
  labelSmoothing: {
    key: 'label_smoothing', default: 0, doc: 'Label smoothing in [0, 0.5].', refuseWhereUnread: true,
    check: (v) => { if (!(v >= 0 && v <= 0.5)) throw expected('a number in [0, 0.5]', 'label_smoothing', v); },
  },
};
