// The optimizer base: parameter groups with their own hyper-parameters, per-parameter state that lives outside
// scopes, zeroGrad, and a state dict that restores a run exactly (see docs/api.md).
import { ArgumentError, expected } from '../errors.js';
import { isFloatingDtype } from '../tensor/dtype.js';
import { keep, tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { zerosLike } from '../tensor/creation.js';

/** A group of parameters and the hyper-parameters it overrides. */
export type ParamGroup<H> = { params: Tensor[] } & Partial<H>;

/** Per-parameter state: tensors (owned by the optimizer) and numbers. */
export type ParamState = Record<string, Tensor | number>;

/** What `stateDict()` returns and `loadStateDict()` takes. Tensors are the optimizer's own (not copies). */
export interface OptimizerStateDict<H> {
  groups: (H & { paramCount: number })[];
  /** One entry per parameter, in group order; null where the parameter has no state yet. */
  state: (ParamState | null)[];
}

export abstract class Optimizer<H extends { lr: number }> {
  readonly groups: (H & { params: Tensor[] })[];
  protected readonly state = new Map<Tensor, ParamState>();

  constructor(params: Tensor[] | ParamGroup<H>[], defaults: H) {
    this.checkHyper(defaults, 'options');
    const list: ParamGroup<H>[] = params.length > 0 && params[0] instanceof Tensor
      ? [{ params: params as Tensor[] } as ParamGroup<H>]
      : (params as ParamGroup<H>[]);
    if (list.length === 0) throw new ArgumentError('An optimizer needs at least one parameter');
    const seen = new Set<Tensor>();
    this.groups = list.map((g, gi) => {
      if (!g || !Array.isArray(g.params)) throw expected('{ params: Tensor[], ... }', `parameter group ${gi}`, g);
      for (const [pi, p] of g.params.entries()) {
        if (!(p instanceof Tensor)) throw expected('a Tensor', `params[${pi}] of group ${gi}`, p);
        if (!isFloatingDtype(p.dtype)) throw expected('a floating-point tensor', `params[${pi}] of group ${gi}`, p);
        if (seen.has(p)) throw new ArgumentError(`Parameter ${pi} of group ${gi} appears in more than one group`);
        seen.add(p);
      }
      const group = { ...defaults, ...g } as H & { params: Tensor[] };
      this.checkHyper(group, `parameter group ${gi}`);
      return group;
    });
  }

  /** Validates hyper-parameters; subclasses add their own checks. */
  protected checkHyper(h: H, where: string): void {
    if (!(typeof h.lr === 'number' && h.lr >= 0)) throw expected('a non-negative number', `lr in ${where}`, h.lr);
  }

  /** Applies one update to every parameter that has a gradient. */
  abstract step(): void;

  /** Drops every gradient (like `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.grad = null;
  }

  /** The state of `p`, created on first use by `init`. State tensors are kept out of every scope. */
  protected stateOf(p: Tensor, init: () => ParamState): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = init();
      for (const v of Object.values(s)) if (v instanceof Tensor) keep(v);
      this.state.set(p, s);
    }
    return s;
  }

  protected zerosFor(p: Tensor): Tensor {
    return keep(zerosLike(p));
  }

  /** Hyper-parameters and state, for checkpoints. */
  stateDict(): OptimizerStateDict<H> {
    const groups = this.groups.map(({ params, ...h }) => ({ ...(h as unknown as H), paramCount: params.length }));
    const state = this.groups.flatMap((g) => g.params.map((p) => this.state.get(p) ?? null));
    return { groups, state };
  }

  /** Restores hyper-parameters and state (copied) from `stateDict()` of an optimizer over the same parameters. */
  loadStateDict(sd: OptimizerStateDict<H>): void {
    if (!sd || !Array.isArray(sd.groups) || sd.groups.length !== this.groups.length) {
      throw expected(`a state dict with ${this.groups.length} parameter group(s)`, 'loadStateDict', sd?.groups?.length);
    }
    const params = this.groups.flatMap((g) => g.params);
    if (!Array.isArray(sd.state) || sd.state.length !== params.length) {
      throw expected(`state for ${params.length} parameters`, 'loadStateDict', sd.state?.length);
    }
    sd.groups.forEach((h, i) => {
      if (h.paramCount !== this.groups[i].params.length) {
        throw expected(`${this.groups[i].params.length} parameters in group ${i}`, 'loadStateDict', h.paramCount);
      }
      const { paramCount: _ignored, ...rest } = h;
      Object.assign(this.groups[i], rest);
    });
    for (const old of this.state.values()) for (const v of Object.values(old)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
    params.forEach((p, i) => {
      const s = sd.state[i];
      if (!s) return;
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(s)) {
        if (v instanceof Tensor) {
          if (v.shape.join() !== p.shape.join() && k !== 'rng') {
            throw expected(`shape [${p.shape}]`, `optimizer state '${k}' of parameter ${i}`, `shape [${v.shape}]`);
          }
          // Tensor.to() aliases its input when nothing changes; the clone keeps the source state dict independent.
          copy[k] = keep(tidy(() => v.to(p.device).to(p.dtype).clone()));
        } else copy[k] = v;
      }
      this.state.set(p, copy);
    });
  }

  /** Frees the state tensors. */
  dispose(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
  }
}
