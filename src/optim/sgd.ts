// SGD with momentum, dampening and Nesterov (torch.optim.SGD), and RMSprop (Hinton's lecture 6e; torch.optim.RMSprop).
import { expected } from '../errors.js';
import { native } from '../tensor/native.js';
import type { Tensor } from '../tensor/tensor.js';
import { Optimizer, type ParamGroup } from './optimizer.js';

export interface SgdOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** Parameters with a gradient, after freeing the gradient handles taken to check. */
function withGrad(params: Tensor[]): Tensor[] {
  return params.filter((p) => {
    if (!p.requiresGrad) return false;
    const g = p.grad;
    if (g === null) return false;
    g.dispose();
    return true;
  });
}

export class SGD extends Optimizer<SgdOptions> {
  constructor(params: Tensor[] | ParamGroup<SgdOptions>[], opts: Partial<SgdOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...opts });
  }

  protected override checkHyper(h: SgdOptions, where: string): void {
    super.checkHyper(h, where);
    if (!(h.momentum >= 0)) throw expected('a non-negative number', `momentum in ${where}`, h.momentum);
    if (!(h.weightDecay >= 0)) throw expected('a non-negative number', `weightDecay in ${where}`, h.weightDecay);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw expected('momentum > 0 and dampening 0', `nesterov in ${where}`, { momentum: h.momentum, dampening: h.dampening });
    }
  }

  step(): void {
    for (const g of this.groups) {
      const params = withGrad(g.params);
      if (params.length === 0) continue;
      const bufs: (Tensor | null)[] = [];
      const fresh: number[] = [];
      for (const p of params) {
        if (g.momentum === 0) {
          bufs.push(null);
          fresh.push(0);
          continue;
        }
        const isNew = !this.state.has(p);
        const s = this.stateOf(p, () => ({ momentumBuffer: this.zerosFor(p) }));
        bufs.push(s.momentumBuffer as Tensor);
        fresh.push(isNew ? 1 : 0);
      }
      native.sgdStep(params.map((p) => p.handle), bufs.map((b) => b?.handle ?? null), fresh, g.lr, g.momentum,
        g.dampening, g.weightDecay, g.nesterov);
    }
  }
}

export interface RmspropOptions {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}

export class RMSprop extends Optimizer<RmspropOptions> {
  constructor(params: Tensor[] | ParamGroup<RmspropOptions>[], opts: Partial<RmspropOptions> = {}) {
    super(params, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, ...opts });
  }

  protected override checkHyper(h: RmspropOptions, where: string): void {
    super.checkHyper(h, where);
    if (!(h.alpha >= 0 && h.alpha <= 1)) throw expected('a number in [0, 1]', `alpha in ${where}`, h.alpha);
    if (!(h.eps >= 0)) throw expected('a non-negative number', `eps in ${where}`, h.eps);
    if (!(h.momentum >= 0)) throw expected('a non-negative number', `momentum in ${where}`, h.momentum);
    if (!(h.weightDecay >= 0)) throw expected('a non-negative number', `weightDecay in ${where}`, h.weightDecay);
  }

  step(): void {
    for (const g of this.groups) {
      const params = withGrad(g.params);
      if (params.length === 0) continue;
      const states = params.map((p) => this.stateOf(p, () => {
        const s: Record<string, Tensor | number> = { step: 0, squareAvg: this.zerosFor(p) };
        if (g.centered) s.gradAvg = this.zerosFor(p);
        if (g.momentum > 0) s.momentumBuffer = this.zerosFor(p);
        return s;
      }));
      for (const s of states) s.step = (s.step as number) + 1;
      const h = (s: Record<string, Tensor | number>, k: string) => (s[k] instanceof Object ? (s[k] as Tensor).handle : null);
      native.rmspropStep(params.map((p) => p.handle), states.map((s) => (s.squareAvg as Tensor).handle),
        states.map((s) => h(s, 'gradAvg')), states.map((s) => h(s, 'momentumBuffer')), g.lr, g.alpha, g.eps,
        g.weightDecay, g.momentum, g.centered);
    }
  }
}
