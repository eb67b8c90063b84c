// The DPO family of preference losses: sigmoid (DPO), IPO, hinge (SLiC) and paired KTO.
import { cat } from '../tensor/index.js';
import type { LossSpec } from './loss-spec.js';
import { LOSS_PARAMS } from './loss-spec.js';

export const sigmoid: LossSpec = {
  name: 'sigmoid',
  needsSafetyLabels: false,
  params: { beta: LOSS_PARAMS.beta, labelSmoothing: LOSS_PARAMS.labelSmoothing },
  citation: 'Rafailov et al., Direct Preference Optimization, NeurIPS 2023, Eq. 7 (with conservative label smoothing)',
  doc: '-(1-eps)*logsigmoid(beta*h) - eps*logsigmoid(-beta*h)',
  fn(h, _lc, _lr, _labels, o) {
    const bh = h.mul(o.beta);
    return bh.logSigmoid().mul(-(1 - o.labelSmoothing)).sub(bh.neg().logSigmoid().mul(o.labelSmoothing));
  },
};

export const ipo: LossSpec = {
  name: 'ipo',
  needsSafetyLabels: false,
  params: { beta: LOSS_PARAMS.beta },
  citation: 'Azar et al., A General Theoretical Paradigm to Understand Learning from Human Preferences, 2023, Eq. 17 (on summed log-probs)',
  doc: '(h - 1/(2*beta))^2',
  fn: (h, _lc, _lr, _labels, o) => h.sub(1 / (2 * o.beta)).square(),
};

export const hinge: LossSpec = {
  name: 'hinge',
  needsSafetyLabels: false,
  params: { beta: LOSS_PARAMS.beta },
  citation: 'Zhao et al., SLiC-HF: Sequence Likelihood Calibration with Human Feedback, 2023, the hinge rank-calibration loss',
  doc: 'relu(1 - beta*h)',
  fn: (h, _lc, _lr, _labels, o) => h.mul(-o.beta).add(1).relu(),
};

export const ktoPair: LossSpec = {
  name: 'kto_pair',
  needsSafetyLabels: false,
  params: { beta: LOSS_PARAMS.beta },
  citation: 'Ethayarajh et al., KTO: Model Alignment as Prospect Theoretic Optimization, 2024, the paired variant with batch-mean KL estimates',
  doc: '1 - sigmoid(beta*(lc - KLr)) and 1 - sigmoid(beta*(KLc - lr)), KLc = max(0, mean(lc)), KLr = max(0, mean(lr)), concatenated',
  fn(_h, lc, lr, _labels, o) {
    const klChosen = lc.mean().clamp(0, null);
    const klRejected = lr.mean().clamp(0, null);
    const chosenLosses = lc.sub(klRejected).mul(o.beta).sigmoid().neg().add(1);
    const rejectedLosses = klChosen.sub(lr).mul(o.beta).sigmoid().neg().add(1);
    return cat([chosenLosses, rejectedLosses], 0);
  },
};
