// Preference losses over per-sequence log-probabilities: BFPO and the DPO family.
// h = (pc - pr) - (rc - rr) is the policy's log-ratio margin over the reference's; every loss is a function of it.
import { ArgumentError, expected } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { cat, tensor, tidy } from '../tensor/index.js';

export type LossType = 'bfpo' | 'sigmoid' | 'ipo' | 'hinge' | 'kto_pair';
export const LOSS_TYPES: readonly LossType[] = ['bfpo', 'sigmoid', 'ipo', 'hinge', 'kto_pair'];

/** Per-pair inputs, each of shape [batch]. Log-probs are summed over completion tokens. */
export interface PreferenceInputs {
  policyChosenLogps: Tensor;
  policyRejectedLogps: Tensor;
  referenceChosenLogps: Tensor;
  referenceRejectedLogps: Tensor;
  /** Safety labels (0 or 1) of the chosen and rejected responses; needed by `bfpo` only. */
  isChosenSafe?: Tensor;
  isRejectedSafe?: Tensor;
}

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

export interface PreferenceOutput {
  /** Per-pair losses [batch] ([2 * batch] for kto_pair); the batch loss is their mean. */
  losses: Tensor;
  /** beta * (pc - rc), detached [batch]. */
  chosenRewards: Tensor;
  /** beta * (pr - rr), detached [batch]. */
  rejectedRewards: Tensor;
}

/** Checks hyper-parameters before any work; throws naming the option and its allowed values. */
export function checkPreferenceOptions(type: LossType, o: PreferenceOptions): Required<PreferenceOptions> {
  if (!LOSS_TYPES.includes(type)) throw expected(`one of ${LOSS_TYPES.join(', ')}`, 'loss_type', type);
  const r = { beta: o.beta ?? 0.1, b1: o.b1 ?? 3, alpha: o.alpha ?? 0.5, labelSmoothing: o.labelSmoothing ?? 0 };
  if (!(Number.isFinite(r.beta) && r.beta > 0)) throw expected('a number > 0', 'beta', r.beta);
  if (type === 'bfpo') {
    if (!(Number.isFinite(r.b1) && r.b1 > 1)) throw expected('a number > 1 (b3 = 1 / (b1 - 1))', 'b1', r.b1);
    if (!Number.isFinite(r.alpha)) throw expected('a finite number', 'alpha', r.alpha);
  }
  if (!(r.labelSmoothing >= 0 && r.labelSmoothing <= 0.5)) throw expected('a number in [0, 0.5]', 'label_smoothing', r.labelSmoothing);
  if (r.labelSmoothing > 0 && type !== 'sigmoid') {
    throw new ArgumentError(`label_smoothing applies to loss_type 'sigmoid' only, not '${type}'`);
  }
  return r;
}

function checkInputs(type: LossType, x: PreferenceInputs): void {
  const names = ['policyChosenLogps', 'policyRejectedLogps', 'referenceChosenLogps', 'referenceRejectedLogps'] as const;
  const shape = x.policyChosenLogps instanceof Tensor ? x.policyChosenLogps.shape : null;
  for (const n of names) {
    const t = x[n];
    if (!(t instanceof Tensor)) throw expected('a Tensor of shape [batch]', n, t);
    if (t.ndim !== 1 || t.shape[0] !== shape?.[0]) throw expected(`a Tensor of shape [${shape}]`, n, t);
  }
  if (type === 'bfpo') {
    for (const n of ['isChosenSafe', 'isRejectedSafe'] as const) {
      const t = x[n];
      if (!(t instanceof Tensor) || t.ndim !== 1 || t.shape[0] !== shape?.[0]) {
        throw expected(`a Tensor of 0/1 safety labels of shape [${shape}] (loss_type bfpo needs them)`, n, t);
      }
    }
  }
}

/**
 * The preference loss of `type` for a batch of pairs.
 *
 * - bfpo (Zhang et al., ICLR 2025, the supervised objective equivalent to the bilinear safety-helpfulness reward):
 *   `(h - (b1*b3*sc - b3*sr - alpha)/beta)^2` with `b3 = 1/(b1-1)`.
 * - sigmoid (DPO, Rafailov et al. 2023, Eq. 7; conservative label smoothing):
 *   `-(1-eps)*logsigmoid(beta*h) - eps*logsigmoid(-beta*h)`.
 * - ipo (Azar et al. 2023, Eq. 17, on summed log-probs): `(h - 1/(2*beta))^2`.
 * - hinge (SLiC, Zhao et al. 2023): `relu(1 - beta*h)`.
 * - kto_pair (Ethayarajh et al. 2024, paired variant): `1 - sigmoid(beta*(lc - KLr))` and
 *   `1 - sigmoid(beta*(KLc - lr))` with `KLc = max(0, mean(lc))`, `KLr = max(0, mean(lr))`, concatenated.
 *
 * @example
 * const { losses } = preferenceLoss('bfpo', { policyChosenLogps, policyRejectedLogps, referenceChosenLogps,
 *   referenceRejectedLogps, isChosenSafe, isRejectedSafe }, { beta: 0.01 });
 * const loss = losses.mean();
 */
export function preferenceLoss(type: LossType, x: PreferenceInputs, options: PreferenceOptions = {}): PreferenceOutput {
  const o = checkPreferenceOptions(type, options);
  checkInputs(type, x);
  return tidy(() => {
    const lc = x.policyChosenLogps.sub(x.referenceChosenLogps); // [batch] chosen log-ratio
    const lr = x.policyRejectedLogps.sub(x.referenceRejectedLogps); // [batch] rejected log-ratio
    const h = lc.sub(lr); // [batch]
    let losses: Tensor;
    switch (type) {
      case 'bfpo': {
        const b3 = 1 / (o.b1 - 1);
        const sc = (x.isChosenSafe as Tensor).to(h.dtype);
        const sr = (x.isRejectedSafe as Tensor).to(h.dtype);
        const target = sc.mul(o.b1 * b3).sub(sr.mul(b3)).sub(o.alpha).div(o.beta); // [batch]
        losses = h.sub(target).square();
        break;
      }
      case 'sigmoid': {
        const bh = h.mul(o.beta);
        losses = bh.logSigmoid().mul(-(1 - o.labelSmoothing)).sub(bh.neg().logSigmoid().mul(o.labelSmoothing));
        break;
      }
      case 'ipo':
        losses = h.sub(1 / (2 * o.beta)).square();
        break;
      case 'hinge':
        losses = h.mul(-o.beta).add(1).relu();
        break;
      case 'kto_pair': {
        const klChosen = lc.mean().clamp(0, null);
        const klRejected = lr.mean().clamp(0, null);
        const chosenLosses = lc.sub(klRejected).mul(o.beta).sigmoid().neg().add(1);
        const rejectedLosses = klChosen.sub(lr).mul(o.beta).sigmoid().neg().add(1);
        losses = cat([chosenLosses, rejectedLosses], 0);
        break;
      }
    }
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
