// Parameter sharding (`sharding: full`, ZeRO-3 / FSDP semantics): each rank keeps the data of only the parameters it
// owns; the others hold empty storage. A decoder layer's parameters are gathered from their owners (one broadcast
// per owner) right before the layer runs and released right after; in the backward pass the layer is gathered again,
// recomputed (gradient checkpointing) and back-propagated, and its gradients are reduce-scattered to their owners,
// which add them to the gradients they accumulate, while the other ranks free them. The parameters outside the
// layers (embeddings, final norm, lm_head) form one more group, gathered for a whole pass.
import { ArgumentError } from '../errors.js';
import { noGrad } from '../tensor/autograd.js';
import { full } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';
import type { ProcessGroup } from './group.js';

type Device = Tensor['device'];

/** A model whose layers can be bracketed (LlamaForCausalLM's `layerHooks`). */
export interface HookableModel {
  layerHooks: {
    beforeForward(layer: number): void;
    afterForward(layer: number): void;
    beforeBackward(layer: number): void;
    afterBackward(layer: number): void;
  } | null;
}

/** Which group a parameter belongs to: its decoder layer's index, or -1 outside the layers. */
export function layerOf(name: string): number {
  const m = /(?:^|\.)layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
}

interface Slot {
  param: Tensor;
  shape: number[];
  dtype: DType;
  device: Device;
  owner: number;
}

/**
 * The parameters of one model sharded over `group` by `owner` (see the file comment). Install it with `attach`;
 * `gatherAll`/`releaseAll` bring every parameter in (to evaluate or save) and let them go again.
 */
export class ParameterShards {
  readonly #group: ProcessGroup;
  readonly #slots: Slot[];
  readonly #groups = new Map<number, number[]>();
  /** Gradients this rank accumulated (already reduced) for the parameters it owns, set aside during a backward. */
  readonly #stash = new Map<number, Tensor | null>();
  readonly #present = new Set<number>();
  readonly #average: boolean;
  #allGathered = false;
  /**
   * The most parameter elements this rank held at once during the passes (its own plus the gathered groups; not
   * counting `gatherAll`, which brings every parameter in to evaluate or save).
   */
  maxHeldElements = 0;
  /** Gradient payload reduce-scattered so far (bytes, float32 on the wire). */
  gradientBytes = 0;

  constructor(group: ProcessGroup, named: [string, Tensor][], owner: readonly number[], o: { averageGradients?: boolean } = {}) {
    if (owner.length !== named.length) throw new ArgumentError(`Expected an owner for each of the ${named.length} parameters but received ${owner.length}`);
    this.#group = group;
    this.#average = o.averageGradients ?? true;
    this.#slots = named.map(([, p], i) => ({ param: p, shape: [...p.shape], dtype: p.dtype, device: p.device, owner: owner[i]! }));
    named.forEach(([name], i) => {
      const l = layerOf(name);
      this.#groups.set(l, [...(this.#groups.get(l) ?? []), i]);
    });
    for (const i of this.#slots.keys()) this.#present.add(i);
  }

  get rank(): number { return this.#group.rank; }

  /** Elements of the parameters each rank owns. */
  ownedElementsPerRank(): number[] {
    const per = new Array<number>(this.#group.worldSize).fill(0);
    for (const s of this.#slots) per[s.owner]! += s.shape.reduce((a, b) => a * b, 1);
    return per;
  }

  /** Parameter elements this rank holds now (counted on the tensors: a released parameter has 0). */
  heldElements(): number {
    return this.#slots.reduce((a, s) => a + s.param.numel(), 0);
  }

  /** Installs the hooks on `model` (its layers then gather and release around their use). */
  attach(model: HookableModel): void {
    model.layerHooks = {
      beforeForward: (l) => this.#beforeForward(l),
      afterForward: (l) => this.#afterForward(l),
      beforeBackward: (l) => this.#beforeBackward(l),
      afterBackward: (l) => this.#afterBackward(l),
    };
  }

  /** Every parameter's data on every rank (a collective): before evaluating or writing the model. */
  gatherAll(): void {
    this.#gather([...this.#slots.keys()], false);
    this.#allGathered = true;
  }

  /** Back to this rank's own parameters (after `gatherAll`, or at the start once the ranks agree on the weights). */
  releaseAll(): void {
    this.#allGathered = false;
    this.#release([...this.#slots.keys()]);
  }

  #numel(i: number): number {
    return this.#slots[i]!.shape.reduce((a, b) => a * b, 1);
  }

  #indices(layer: number): number[] {
    return this.#groups.get(layer) ?? [];
  }

  /** Brings in the parameters `idx` from their owners: one broadcast per owner rank (of its parameters among them). */
  #gather(idx: number[], measure = true): void {
    // Every rank makes the same broadcasts, whatever it holds already.
    const missing = idx.filter((i) => !this.#present.has(i));
    noGrad(() => {
      for (const i of missing) {
        const s = this.#slots[i]!;
        const t = full(s.shape, 0, { dtype: s.dtype, device: s.device });
        s.param.setData_(t);
        t.dispose();
        this.#present.add(i);
      }
    });
    for (let r = 0; r < this.#group.worldSize; r++) {
      this.#group.broadcast(idx.filter((i) => this.#slots[i]!.owner === r).map((i) => this.#slots[i]!.param), r);
    }
    if (measure) this.maxHeldElements = Math.max(this.maxHeldElements, this.heldElements());
  }

  /** Lets the parameters `idx` that other ranks own go (empty storage of the same dtype and device). */
  #release(idx: number[]): void {
    noGrad(() => {
      for (const i of idx) {
        const s = this.#slots[i]!;
        if (s.owner === this.rank || !this.#present.has(i)) continue;
        const empty = full([0], 0, { dtype: s.dtype, device: s.device });
        s.param.setData_(empty);
        empty.dispose();
        this.#present.delete(i);
      }
    });
  }

  /** Sets aside the owned gradients accumulated so far, so that the coming backward leaves only this pass's. */
  #stashGrads(idx: number[]): void {
    for (const i of idx) {
      const p = this.#slots[i]!.param;
      this.#stash.set(i, this.#slots[i]!.owner === this.rank ? p.grad : null);
      p.grad = null;
    }
  }

  /** Puts the set-aside gradients back (after a pass without backward). */
  #unstash(idx: number[]): void {
    for (const i of idx) {
      if (!this.#stash.has(i)) continue;
      const g = this.#stash.get(i) ?? null;
      this.#stash.delete(i);
      const p = this.#slots[i]!.param;
      if (g) { p.grad = g; g.dispose(); }
    }
  }

  #beforeForward(layer: number): void {
    if (this.#allGathered) return;
    const idx = this.#indices(layer);
    this.#gather(idx);
    if (layer === -1) this.#stashGrads(idx);
  }

  #afterForward(layer: number): void {
    if (this.#allGathered) return;
    const idx = this.#indices(layer);
    if (layer === -1) this.#unstash(idx);
    this.#release(idx);
  }

  #beforeBackward(layer: number): void {
    if (this.#allGathered) return;
    const idx = this.#indices(layer);
    this.#gather(idx);
    this.#stashGrads(idx);
  }

  /**
   * This pass's gradients of the group, laid out by owner, reduce-scattered (averaged over the ranks): each owner
   * adds its piece to the gradients it accumulated; the other ranks' copies are freed with the parameters.
   */
  #afterBackward(layer: number): void {
    if (this.#allGathered) return;
    const idx = this.#indices(layer).slice().sort((a, b) => this.#slots[a]!.owner - this.#slots[b]!.owner || a - b);
    if (idx.length > 0) {
      const grads = idx.map((i) => {
        const s = this.#slots[i]!;
        return s.param.grad ?? full(s.shape, 0, { dtype: s.dtype, device: s.device });
      });
      const counts = new Array<number>(this.#group.worldSize).fill(0);
      for (const i of idx) counts[this.#slots[i]!.owner]! += this.#numel(i);
      const piece = this.#group.reduceScatter(grads, counts, { average: this.#average });
      for (const g of grads) this.gradientBytes += g.numel() * (g.dtype === 'float64' ? 8 : 4);
      for (const g of grads) g.dispose();
      try {
        let off = 0;
        noGrad(() => {
          for (const i of idx) {
            const s = this.#slots[i]!;
            s.param.grad = null;
            if (s.owner !== this.rank) continue;
            const n = this.#numel(i);
            const before = this.#stash.get(i) ?? null;
            const mine = tidy(() => {
              const g = piece.narrow(0, off, n).view(s.shape);
              return before ? before.add(g) : g.clone();
            });
            s.param.grad = mine;
            mine.dispose();
            off += n;
          }
        });
      } finally {
        piece.dispose();
      }
    }
    for (const i of idx) {
      this.#stash.get(i)?.dispose();
      this.#stash.delete(i);
    }
    this.#release(idx);
  }
}
