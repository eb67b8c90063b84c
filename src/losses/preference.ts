// Preference losses over per-sequence log-probabilities, dispatched through the loss registry (registry.ts).
// h = (pc - pr) - (rc - rr) is the policy's log-ratio margin over the reference's; every loss is a function of it.
import { ArgumentError, expected } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { tensor, tidy } from '../tensor/index.js';
import { LOSS_PARAMS, type LossParamName, type LossSpec, type PreferenceOptions } from './loss-spec.js';
import { findLoss, lossNames, LOSSES, type BuiltinLossType } from './registry.js';

export type { PreferenceOptions } from './loss-spec.js';

/** The name of a built-in loss (the keys of `LOSSES`); losses added with `registerLoss` are passed by name too. */
export type LossType = BuiltinLossType;
/** The built-in loss names. */
export const LOSS_TYPES: readonly LossType[] = Object.keys(LOSSES) as LossType[];

/** Per-pair inputs, each of shape [batch]. Log-probs are summed over completion tokens. */
export interface PreferenceInputs {
  policyChosenLogps: Tensor;
  policyRejectedLogps: Tensor;
  referenceChosenLogps: Tensor;
  referenceRejectedLogps: Tensor;
  /** Safety labels (0 or 1) of the chosen and rejected responses; needed by losses with `needsSafetyLabels` (bfpo). */
  isChosenSafe?: Tensor;
  isRejectedSafe?: Tensor;
}

export interface PreferenceOutput {
  /** Per-pair losses [batch] ([2 * batch] for kto_pair); the batch loss is their mean. */
  losses: Tensor;
  /** beta * (pc - rc), detached [batch]. */
  chosenRewards: Tensor;
  /** beta * (pr - rr), detached [batch]. */
  rejectedRewards: Tensor;
}

/** The registered loss `type`; throws listing the registered names when there is none. */
export function lossSpec(type: string): LossSpec {
  const spec = findLoss(type);
  if (!spec) throw expected(`one of ${lossNames().join(', ')}`, 'loss_type', type);
  return spec;
}

/**
 * Checks hyper-parameters before any work; throws naming the option and its allowed values. Each loss checks the
 * parameters it reads (beta > 0 for all; b1 > 1 and a finite alpha for bfpo); a parameter that a loss refuses to
 * ignore (label_smoothing) is an error when set for a loss that does not read it.
 */
export function checkPreferenceOptions(type: LossType | (string & {}), o: PreferenceOptions): Required<PreferenceOptions> {
  const spec = lossSpec(type);
  const r = {} as Required<PreferenceOptions>;
  for (const name of Object.keys(LOSS_PARAMS) as LossParamName[]) {
    const param = spec.params[name];
    const shared = LOSS_PARAMS[name];
    const value = o[name] ?? param?.default ?? shared.default;
    r[name] = value;
    if (param) param.check(value);
    else if (shared.refuseWhereUnread && value !== shared.default) {
      shared.check(value);
      const readers = lossNames().filter((n) => findLoss(n)?.params[name]).map((n) => `'${n}'`);
      throw new ArgumentError(`${shared.key} applies to loss_type ${readers.join(', ')} only, not '${type}'`);
    }
  }
  return r;
}

function checkInputs(spec: LossSpec, x: PreferenceInputs): void {
  const names = ['policyChosenLogps', 'policyRejectedLogps', 'referenceChosenLogps', 'referenceRejectedLogps'] as const;
  const shape = x.policyChosenLogps instanceof Tensor ? x.policyChosenLogps.shape : null;
  for (const n of names) {
    const t = x[n];
    if (!(t instanceof Tensor)) throw expected('a Tensor of shape [batch]', n, t);
    if (t.ndim !== 1 || t.shape[0] !== shape?.[0]) throw expected(`a Tensor of shape [${shape}]`, n, t);
  }
  if (spec.needsSafetyLabels) {
    for (const n of ['isChosenSafe', 'isRejectedSafe'] as const) {
      const t = x[n];
      if (!(t instanceof Tensor) || t.ndim !== 1 || t.shape[0] !== shape?.[0]) {
        throw expected(`a Tensor of 0/1 safety labels of shape [${shape}] (loss_type ${spec.name} needs them)`, n, t);
      }
    }
  }
}

/**
 * The preference loss `type` (a name in the loss registry) for a batch of pairs. Every loss is a function of the
 * chosen and rejected log-ratios `lc = pc - rc`, `lr = pr - rr` and the margin `h = lc - lr`; the formulas and
 * their papers are in each entry of `LOSSES` (docs/training.md lists them).
 *
 * @example
 * const { losses } = preferenceLoss('bfpo', { policyChosenLogps, policyRejectedLogps, referenceChosenLogps,
 *   referenceRejectedLogps, isChosenSafe, isRejectedSafe }, { beta: 0.01 });
 * const loss = losses.mean();
 */
export function preferenceLoss(type: LossType | (string & {}), x: PreferenceInputs, options: PreferenceOptions = {}): PreferenceOutput {
  const spec = lossSpec(type);
  const o = checkPreferenceOptions(type, options);
  checkInputs(spec, x);
  return tidy(() => {
    const lc = x.policyChosenLogps.sub(x.referenceChosenLogps); // [batch] chosen log-ratio
    const lr = x.policyRejectedLogps.sub(x.referenceRejectedLogps); // [batch] rejected log-ratio
    const h = lc.sub(lr); // [batch]
    const labels = spec.needsSafetyLabels
      ? { chosen: (x.isChosenSafe as Tensor).to(h.dtype), rejected: (x.isRejectedSafe as Tensor).to(h.dtype) }
      : undefined;
    const losses = spec.fn(h, lc, lr, labels, o);
    const chosenRewards = lc.detach().mul(o.beta);
    const rejectedRewards = lr.detach().mul(o.beta);
    return { losses, chosenRewards, rejectedRewards };
  });
}

/** Safety labels as a tensor, checking that each is 0 or 1. */
export function safetyLabels(values: number[], name: string): Tensor {
  values.forEach((v, i) => {
    if (v !== 0 && v !== 1) throw expected('0 or 1', `${name}[${i}]`, v);
  });
  return tensor(Int32Array.from(values), { dtype: 'float32' });
}
