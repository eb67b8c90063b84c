// The BFPO loss: a squared error between the policy's margin and the bilinear safety-helpfulness target.
import type { LossSpec } from './loss-spec.js';
import { LOSS_PARAMS } from './loss-spec.js';

export const bfpo: LossSpec = {
  name: 'bfpo',
  needsSafetyLabels: true,
  params: { beta: LOSS_PARAMS.beta, b1: LOSS_PARAMS.b1, alpha: LOSS_PARAMS.alpha },
  citation: 'Zhang et al., Bi-Factorial Preference Optimization, ICLR 2025, the supervised objective equivalent to the bilinear safety-helpfulness reward',
  doc: '(h - (b1*b3*sc - b3*sr - alpha)/beta)^2, b3 = 1/(b1-1), sc/sr the safety labels',
  fn(h, _lc, _lr, labels, o) {
    if (!labels) throw new Error('bfpo needs safety labels');
    const b3 = 1 / (o.b1 - 1);
    const target = labels.chosen.mul(o.b1 * b3).sub(labels.rejected.mul(b3)).sub(o.alpha).div(o.beta); // [batch]
    return h.sub(target).square();
  },
};
