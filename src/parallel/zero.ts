// Optimizer and gradient sharding (ZeRO stages 1 and 2): each rank owns whole parameters, keeps the optimizer state
// (and with bf16 the fp32 masters) of only those, and receives by reduce-scatter only their averaged gradients
// (the gradients are laid out by owner, so each owner's region of the flat buffer is contiguous); after its update
// each owner broadcasts its parameters, so all ranks end the step with the same weights. `stateDict` is the
// unsharded state (gathered on demand, one format whatever the world size); `ownedStateDict` is the rank's own part,
// which a sharded checkpoint stores per rank. Loading takes each rank's slice of a full state dict (re-sharding).
import { ArgumentError } from '../errors.js';
import { Optimizer, type OptimizerStateDict, type ParamState } from '../optim/optimizer.js';
import { full, zerosLike } from '../tensor/creation.js';
import { clipGradNormTensor_, noGrad } from '../tensor/autograd.js';
import { stack } from '../tensor/functional.js';
import { keep, tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import type { ProcessGroup } from './group.js';

type Hyper = { lr: number } & Record<string, unknown>;

/**
 * Which rank owns each parameter: largest first, each to the rank holding the fewest elements so far (ties to the
 * lower rank). Deterministic, so every rank computes the same partition.
 */
export function partitionParams(sizes: readonly number[], worldSize: number): number[] {
  const owner = new Array<number>(sizes.length).fill(0);
  const load = new Array<number>(worldSize).fill(0);
  const order = sizes.map((n, i) => [n, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [n, i] of order) {
    let best = 0;
    for (let r = 1; r < worldSize; r++) if (load[r]! < load[best]!) best = r;
    owner[i] = best;
    load[best]! += n;
  }
  return owner;
}

/**
 * An optimizer whose state is split over the ranks of `group` (see the file comment). With `masterWeights` (bf16
 * parameters), the fp32 master copies are part of the split state too: each rank keeps the masters of the
 * parameters it owns, steps them, rounds them into its bf16 parameters and broadcasts those.
 */
export class ShardedOptimizer<H extends Hyper> extends Optimizer<H> {
  readonly owner: number[];
  readonly #group: ProcessGroup;
  readonly #inner: Optimizer<H> | null;
  readonly #ownedIndex: number[];
  /** fp32 masters of the owned parameters (masterWeights), by parameter index. */
  readonly #masters = new Map<number, Tensor>();
  #clipCoef: Tensor | null = null;
  #ownsMasters = false;
  #gathered: Tensor[] = [];

  /** Parameter sharding: other ranks' parameters are not kept here, so nothing is broadcast after the update. */
  readonly #shardedParameters: boolean;
  readonly #shapes: number[][];

  constructor(group: ProcessGroup, params: Tensor[], make: (params: Tensor[]) => Optimizer<H>, o: { masterWeights?: boolean; shardedParameters?: boolean } = {}) {
    // The hyper-parameters come from the optimizer over all parameters (it allocates no state until a step).
    const template = make(params);
    if (template.groups.length !== 1) throw new ArgumentError('sharding: optimizer supports optimizers with one parameter group');
    const { params: _p, ...hyper } = template.groups[0]!;
    template.dispose();
    super(params, hyper as unknown as H);
    this.#group = group;
    this.#shardedParameters = o.shardedParameters === true;
    this.#shapes = params.map((p) => [...p.shape]);
    this.owner = partitionParams(params.map((p) => p.numel()), group.worldSize);
    this.#ownedIndex = params.flatMap((_, i) => (this.owner[i] === group.rank ? [i] : []));
    this.#ownsMasters = o.masterWeights === true;
    if (o.masterWeights) {
      for (const i of this.#ownedIndex) this.#masters.set(i, noGrad(() => keep(params[i]!.to('float32'))).requiresGrad_(true));
    }
    const stepped = this.#ownedIndex.map((i) => this.#masters.get(i) ?? params[i]!);
    this.#inner = this.#ownedIndex.length > 0 ? make(stepped) : null;
  }

  /** Whether this optimizer keeps the fp32 master weights (the trainer then keeps none). */
  get ownsMasterWeights(): boolean { return this.#ownsMasters; }

  /**
   * The parameter indices in the order of the reduce-scattered flat buffer: by owner (rank 0's parameters first),
   * then by index, so each owner's piece is one contiguous region.
   */
  get layout(): number[] {
    return this.#params.map((_, i) => i).sort((a, b) => this.owner[a]! - this.owner[b]! || a - b);
  }

  /**
   * Clips the global gradient norm as clip_grad_norm_ does: each rank holds only its owned gradients (after the
   * reduce-scatter), so each computes the float32 norm of each owned gradient, the vector of all parameters'
   * norms (zeros elsewhere) is summed over the ranks (one all-reduce of 4 bytes per parameter tensor; adding zeros
   * is exact), and every rank takes the norm of that vector, the same number an unsharded run computes from the
   * same per-parameter norms. With masters the coefficient is applied when the owned gradients move onto their
   * masters, otherwise to the owned gradients now. Returns the norm before clipping (a float32 0-d tensor the caller
   * disposes), as clipGradNormTensor_ does.
   */
  clipGradNormTensor_(maxNorm: number): Tensor {
    if (this.#group.worldSize === 1) return clipGradNormTensor_(this.#params, maxNorm);
    const perParam = tidy(() => {
      const norms = this.#params.map((p) => {
        const g = p.grad;
        if (g === null) return full([], 0, { dtype: 'float32', device: p.device });
        const n = g.to('float32').norm(2);
        g.dispose();
        return n;
      });
      return keep(stack(norms));
    });
    this.#group.allreduce([perParam]);
    const total = keep(tidy(() => perParam.norm(2)));
    perParam.dispose();
    this.#clipCoef?.dispose();
    this.#clipCoef = keep(tidy(() => full([], maxNorm, { dtype: 'float32' }).div(total.add(1e-6)).clamp(null, 1)));
    if (!this.#ownsMasters) {
      noGrad(() => {
        for (const i of this.#ownedIndex) {
          const g = this.#params[i]!.grad;
          if (g === null) continue;
          tidy(() => { g.mul_(this.#clipCoef!.to(g.dtype)); });
          g.dispose();
        }
      });
      this.#clipCoef.dispose();
      this.#clipCoef = null;
    }
    return total;
  }

  get #params(): Tensor[] { return this.groups[0]!.params; }

  /** Elements of optimizer-state-bearing parameters this rank owns. */
  get ownedElements(): number {
    return this.#ownedIndex.reduce((a, i) => a + this.#params[i]!.numel(), 0);
  }

  step(): void {
    if (this.#ownsMasters) {
      // The owned bf16 gradients, as fp32 (clipped), onto their masters.
      for (const [i, m] of this.#masters) {
        const g = this.#params[i]!.grad;
        if (g === null) continue;
        const g32 = tidy(() => (this.#clipCoef ? g.to('float32').mul(this.#clipCoef) : g.to('float32')));
        m.grad = g32;
        g32.dispose();
        g.dispose();
      }
    }
    this.#clipCoef?.dispose();
    this.#clipCoef = null;
    if (this.#inner) {
      const { params: _p, ...hyper } = this.groups[0]!;
      Object.assign(this.#inner.groups[0]!, hyper);
      this.#inner.step();
      this.#inner.zeroGrad();
    }
    if (this.#ownsMasters) noGrad(() => { for (const [i, m] of this.#masters) this.#params[i]!.copy_(m); });
    // Each owner's updated parameters to every rank (one broadcast per rank, flattened); with parameter sharding the
    // others gather them when they need them.
    for (let r = 0; r < this.#group.worldSize && !this.#shardedParameters; r++) {
      this.#group.broadcast(this.#params.filter((_, i) => this.owner[i] === r), r);
    }
  }

  /** The indices (into the parameter list) of the parameters this rank owns, in order. */
  get ownedIndices(): readonly number[] { return this.#ownedIndex; }

  /**
   * This rank's part of the state, without communication: an entry (with its fp32 master, key 'master', when this
   * optimizer keeps masters) for each owned parameter, null for the others. What a sharded checkpoint stores.
   */
  ownedStateDict(): OptimizerStateDict<H> {
    const local = this.#inner?.stateDict().state ?? [];
    const state: (ParamState | null)[] = this.#params.map(() => null);
    this.#ownedIndex.forEach((i, k) => { state[i] = this.#withMaster(i, local[k] ?? null); });
    const groups = this.groups.map(({ params: ps, ...h }) => ({ ...(h as unknown as H), paramCount: ps.length }));
    return { groups, state };
  }

  /** The full (unsharded) state: a collective, every rank must call it at the same point. */
  override stateDict(): OptimizerStateDict<H> {
    for (const t of this.#gathered) t.dispose();
    this.#gathered = [];
    const params = this.#params;
    const local = this.#inner?.stateDict().state ?? [];
    const state: (ParamState | null)[] = params.map(() => null);
    for (let r = 0; r < this.#group.worldSize; r++) {
      const owned = params.flatMap((_, i) => (this.owner[i] === r ? [i] : []));
      if (owned.length === 0) continue;
      // The owner describes its state (which tensors, the numbers) through the store; the tensors follow by broadcast.
      const key = `zero/state/${r}/${this.#gatherCount}`;
      if (r === this.#group.rank) {
        const desc = owned.map((i, k) => {
          const s = this.#withMaster(i, local[k] ?? null);
          if (!s) return null;
          return Object.fromEntries(Object.entries(s).map(([name, v]) => [name, v instanceof Tensor ? { tensor: true } : v]));
        });
        this.#group.storeSet(key, JSON.stringify(desc));
      }
      const desc = JSON.parse(String(this.#group.storeGet(key))) as (Record<string, number | { tensor: true }> | null)[];
      const tensors: Tensor[] = [];
      owned.forEach((i, k) => {
        const d = desc[k];
        if (!d) return;
        const entry: ParamState = {};
        for (const [name, v] of Object.entries(d)) {
          if (typeof v === 'number') { entry[name] = v; continue; }
          let t: Tensor;
          if (r === this.#group.rank) {
            t = this.#withMaster(i, local[k] ?? null)![name] as Tensor;
            if (t.shape.join() !== params[i]!.shape.join()) throw new ArgumentError(`sharding: optimizer cannot gather state '${name}' of a shape other than its parameter's`);
          } else {
            // Received values take the owner's dtype: optimizer state (and masters) are fp32.
            t = keep(full(this.#shapes[i]!, 0, { dtype: this.#ownsMasters ? 'float32' : params[i]!.dtype, device: params[i]!.device }));
            this.#gathered.push(t);
          }
          entry[name] = t;
          tensors.push(t);
        }
        state[i] = entry;
      });
      this.#group.broadcast(tensors, r);
    }
    this.#gatherCount++;
    const groups = this.groups.map(({ params: ps, ...h }) => ({ ...(h as unknown as H), paramCount: ps.length }));
    return { groups, state };
  }

  #gatherCount = 0;

  /** A parameter's state with its fp32 master (key 'master') when this optimizer keeps masters. */
  #withMaster(i: number, s: ParamState | null): ParamState | null {
    const m = this.#masters.get(i);
    return m ? { ...(s ?? {}), master: m } : s;
  }

  /** Takes this rank's slice of a full state dict (from any world size, or an unsharded run). */
  override loadStateDict(sd: OptimizerStateDict<H>): void {
    const n = this.#params.length;
    if (!sd || !Array.isArray(sd.state) || sd.state.length !== n || sd.groups?.length !== 1) {
      throw new ArgumentError(`Expected optimizer state for ${n} parameters in one group but received ${sd?.state?.length} in ${sd?.groups?.length}`);
    }
    const { paramCount: _c, ...hyper } = sd.groups[0]!;
    Object.assign(this.groups[0]!, hyper);
    const state = this.#ownedIndex.map((i) => {
      const s = sd.state[i] ?? null;
      if (!s || !('master' in s)) return s;
      const { master, ...rest } = s;
      const m = this.#masters.get(i);
      if (m && master instanceof Tensor) noGrad(() => m.copy_(master));
      return Object.keys(rest).length > 0 ? rest : null;
    });
    this.#inner?.loadStateDict({ groups: [{ ...(hyper as unknown as H), paramCount: this.#ownedIndex.length }], state });
  }

  override dispose(): void {
    for (const t of this.#gathered) t.dispose();
    this.#gathered = [];
    for (const m of this.#masters.values()) m.dispose();
    this.#masters.clear();
    this.#clipCoef?.dispose();
    this.#inner?.dispose();
    super.dispose();
  }
}
