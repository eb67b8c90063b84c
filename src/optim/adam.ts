// Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), matching torch.optim.Adam/AdamW.
import { expected } from '../errors.js';
import { native } from '../tensor/native.js';
import { fastPaths } from '../tensor/runtime.js';
import type { Tensor } from '../tensor/tensor.js';
import { Optimizer, type ParamGroup } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

/** Where libtorch has its fused AdamW kernel: CUDA tensors from 2.0, CPU tensors from 2.4 (see fastPaths()). */
export function fusedAdamwAvailable(device: string): boolean {
  const f = fastPaths();
  return device === 'cpu' ? f.fusedAdamwCpu : f.fusedAdamwCuda;
}

/** What Adam and AdamW share (their update rule and state). */
export abstract class AdamBase extends Optimizer<AdamOptions> {
  protected abstract readonly decoupled: boolean;
  /** Use libtorch's fused multi-tensor kernel where it exists (AdamW only). */
  protected fused = false;

  protected override checkHyper(h: AdamOptions, where: string): void {
    super.checkHyper(h, where);
    const [b1, b2] = h.betas ?? [];
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw expected('betas [b1, b2] in [0, 1)', `betas in ${where}`, h.betas);
    if (!(h.eps >= 0)) throw expected('a non-negative number', `eps in ${where}`, h.eps);
    if (!(h.weightDecay >= 0)) throw expected('a non-negative number', `weightDecay in ${where}`, h.weightDecay);
  }

  step(): void {
    for (const g of this.groups) {
      const due = this.due(g, (p) => p);
      if (due.params.length === 0) continue;
      const { params, m, v, steps } = due;
      if (this.fused && this.decoupled) {
        this.fusedStep(g, params, m, v, steps);
        continue;
      }
      native.adamStep(params.map((p) => p.handle), m.map((t) => t.handle), v.map((t) => t.handle), steps, g.lr,
        g.betas[0], g.betas[1], g.eps, g.weightDecay, this.decoupled);
    }
  }

  /**
   * The parameters of group `g` with a gradient (on `gradOwner(p)`, the parameter itself or the model parameter a
   * master stands for), their moments (made on first use) and step counts, each count advanced by one.
   */
  private due(g: ParamGroup<AdamOptions>, gradOwner: (p: Tensor) => Tensor | undefined) {
    const params: Tensor[] = [];
    const owners: Tensor[] = [];
    const m: Tensor[] = [];
    const v: Tensor[] = [];
    const steps: number[] = [];
    for (const p of g.params) {
      const owner = gradOwner(p);
      if (!p.requiresGrad || owner === undefined) continue;
      const grad = owner.grad;
      if (grad === null) continue;
      grad.dispose();
      const s = this.stateOf(p, () => ({ step: 0, expAvg: this.zerosFor(p), expAvgSq: this.zerosFor(p) }));
      s.step = (s.step as number) + 1;
      params.push(p);
      owners.push(owner);
      m.push(s.expAvg as Tensor);
      v.push(s.expAvgSq as Tensor);
      steps.push(s.step);
    }
    return { params, owners, m, v, steps };
  }

  /**
   * Whether {@link stepMixed} applies: not with libtorch's fused kernel, which steps float32 gradients of its own.
   */
  get stepsMixed(): boolean {
    return !this.fused;
  }

  /**
   * One step of float32 master parameters (this optimizer's) from the gradients of the bfloat16 model parameters
   * they stand for (`modelOf(master)`), multiplied by `scale` (a clipping coefficient); each updated master is
   * rounded into its model parameter. The same result as moving the gradients onto the masters as float32, scaling
   * them, `step()` and copying the masters back, in one pass over each parameter (see MasterWeights). The model
   * gradients stay; the caller drops them.
   */
  stepMixed(modelOf: (master: Tensor) => Tensor | undefined, scale: number): void {
    for (const g of this.groups) {
      const { params, owners, m, v, steps } = this.due(g, modelOf);
      if (params.length === 0) continue;
      native.mixedAdamStep(params.map((p) => p.handle), owners.map((p) => p.handle), m.map((t) => t.handle), v.map((t) => t.handle), steps,
        g.lr, g.betas[0], g.betas[1], g.eps, g.weightDecay, this.decoupled, scale);
    }
  }

  /**
   * One fused update per (device, dtype) group of parameters where libtorch has the kernel; the rest take the
   * plain update (the two agree to rounding).
   */
  private fusedStep(g: ParamGroup<AdamOptions> & AdamOptions, params: Tensor[], m: Tensor[], v: Tensor[], steps: number[]): void {
    const groups = new Map<string, number[]>();
    params.forEach((p, i) => {
      const key = fusedAdamwAvailable(p.device) ? `${p.device}|${p.dtype}` : 'plain';
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const [key, idx] of groups) {
      const args = [idx.map((i) => params[i].handle), idx.map((i) => m[i].handle), idx.map((i) => v[i].handle), idx.map((i) => steps[i]), g.lr,
        g.betas[0], g.betas[1], g.eps, g.weightDecay] as const;
      if (key === 'plain') native.adamStep(...args, true);
      else native.fusedAdamwStep(...args);
    }
  }
}

/** Adam with L2 weight decay added to the gradient (torch.optim.Adam). */
export class Adam extends AdamBase {
  protected readonly decoupled = false;
  constructor(params: Tensor[] | ParamGroup<AdamOptions>[], opts: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, ...opts });
  }
}

/**
 * AdamW: decoupled weight decay (torch.optim.AdamW, default weightDecay 0.01).
 * @example const opt = new AdamW(model.parameters(), { lr: 5e-7 }); loss.backward(); opt.step(); opt.zeroGrad();
 */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  /**
   * `fused: true` uses libtorch's fused kernel (torch.optim.AdamW(fused=True)) for parameters on a device where
   * this libtorch has it (CUDA from 2.0, CPU from 2.4) and the plain update elsewhere.
   */
  constructor(params: Tensor[] | ParamGroup<AdamOptions>[], opts: Partial<AdamOptions> & { fused?: boolean } = {}) {
    const { fused = false, ...rest } = opts;
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, ...rest });
    this.fused = fused;
  }
}
