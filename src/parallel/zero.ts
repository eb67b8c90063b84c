// Optimizer-state sharding (ZeRO stage 1): every rank holds the full gradients (after the all-reduce) but keeps and
// updates the optimizer state of only the parameters it owns; after its update each owner broadcasts its parameters,
// so all ranks end the step with the same weights. The state dict is the unsharded one (gathered on demand), so
// checkpoints have one format whatever the world size, and loading takes each rank's slice of it (re-sharding).
import { ArgumentError } from '../errors.js';
import { Optimizer, type OptimizerStateDict, type ParamState } from '../optim/optimizer.js';
import { zerosLike } from '../tensor/creation.js';
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

/** An optimizer whose state is split over the ranks of `group` (see the file comment). */
export class ShardedOptimizer<H extends Hyper> extends Optimizer<H> {
  readonly owner: number[];
  readonly #group: ProcessGroup;
  readonly #inner: Optimizer<H> | null;
  readonly #ownedIndex: number[];
  #gathered: Tensor[] = [];

  constructor(group: ProcessGroup, params: Tensor[], make: (params: Tensor[]) => Optimizer<H>) {
    // The hyper-parameters come from the optimizer over all parameters (it allocates no state until a step).
    const template = make(params);
    if (template.groups.length !== 1) throw new ArgumentError('sharding: optimizer supports optimizers with one parameter group');
    const { params: _p, ...hyper } = template.groups[0]!;
    template.dispose();
    super(params, hyper as unknown as H);
    this.#group = group;
    this.owner = partitionParams(params.map((p) => p.numel()), group.worldSize);
    this.#ownedIndex = params.flatMap((_, i) => (this.owner[i] === group.rank ? [i] : []));
    this.#inner = this.#ownedIndex.length > 0 ? make(this.#ownedIndex.map((i) => params[i]!)) : null;
  }

  get #params(): Tensor[] { return this.groups[0]!.params; }

  /** Elements of optimizer-state-bearing parameters this rank owns. */
  get ownedElements(): number {
    return this.#ownedIndex.reduce((a, i) => a + this.#params[i]!.numel(), 0);
  }

  step(): void {
    if (this.#inner) {
      const { params: _p, ...hyper } = this.groups[0]!;
      Object.assign(this.#inner.groups[0]!, hyper);
      this.#inner.step();
    }
    // Each owner's updated parameters to every rank (one broadcast per rank, flattened).
    for (let r = 0; r < this.#group.worldSize; r++) {
      this.#group.broadcast(this.#params.filter((_, i) => this.owner[i] === r), r);
    }
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
        const desc = owned.map((_, k) => {
          const s = local[k];
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
            t = local[k]![name] as Tensor;
            if (t.shape.join() !== params[i]!.shape.join()) throw new ArgumentError(`sharding: optimizer cannot gather state '${name}' of a shape other than its parameter's`);
          } else {
            t = keep(tidy(() => zerosLike(params[i]!)));
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

  /** Takes this rank's slice of a full state dict (from any world size, or an unsharded run). */
  override loadStateDict(sd: OptimizerStateDict<H>): void {
    const n = this.#params.length;
    if (!sd || !Array.isArray(sd.state) || sd.state.length !== n || sd.groups?.length !== 1) {
      throw new ArgumentError(`Expected optimizer state for ${n} parameters in one group but received ${sd?.state?.length} in ${sd?.groups?.length}`);
    }
    const { paramCount: _c, ...hyper } = sd.groups[0]!;
    Object.assign(this.groups[0]!, hyper);
    this.#inner?.loadStateDict({
      groups: [{ ...(hyper as unknown as H), paramCount: this.#ownedIndex.length }],
      state: this.#ownedIndex.map((i) => sd.state[i] ?? null),
    });
  }

  override dispose(): void {
    for (const t of this.#gathered) t.dispose();
    this.#gathered = [];
    this.#inner?.dispose();
    super.dispose();
  }
}
