// Key/value cache for incremental decoding: per layer, the rotated keys and the values of every position seen so
// far, [batch, kvHeads, seen, headDim]. Without autograd the cache writes into preallocated buffers (no copy of the
// past per step); with autograd it concatenates, which backward can differentiate. Its tensors live outside
// scopes; the cache frees them on growth and dispose.
import { isGradEnabled, isInferenceMode } from '../tensor/autograd.js';
import { empty } from '../tensor/creation.js';
import { expected } from '../errors.js';
import { cat } from '../tensor/functional.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * The past of a generation. Pass the same cache to successive `forward` calls; each call appends its positions.
 * `reserve` sizes the buffers for that many positions up front (generation knows prompt + max new tokens).
 *
 * @example
 * const cache = new KVCache({ reserve: 512 });
 * model.forward(prompt, { attentionMask, cache });          // prefill
 * model.forward(nextToken, { attentionMask: longer, cache }); // one step
 * cache.dispose();
 */
export class KVCache {
  #keys: (Tensor | null)[] = []; // [b, nkv, capacity, hd] per layer
  #values: (Tensor | null)[] = [];
  #lengths: number[] = [];
  readonly reserve: number;

  constructor({ reserve = 0 }: { reserve?: number } = {}) {
    if (!(Number.isInteger(reserve) && reserve >= 0)) throw expected('a non-negative integer', 'reserve', reserve);
    this.reserve = reserve;
  }

  /** Number of positions stored (those of layer 0). */
  get length(): number {
    return this.#lengths[0] ?? 0;
  }

  /**
   * Appends `k`, `v` [b, nkv, s, hd] to layer `layer`; returns the whole past, [b, nkv, seen, hd] (views that the
   * caller's scope may dispose; the cache keeps its own buffers).
   */
  update(layer: number, k: Tensor, v: Tensor): { keys: Tensor; values: Tensor } {
    const len = this.#lengths[layer] ?? 0;
    const s = k.shape[2];
    if (isGradEnabled() && !isInferenceMode()) {
      // Autograd must see the concatenation; writing into a buffer in place would hide it.
      this.#replace(layer, keep(len ? cat([this.#keys[layer]!, k], 2) : k.clone()), keep(len ? cat([this.#values[layer]!, v], 2) : v.clone()));
      this.#lengths[layer] = len + s;
      return { keys: this.#keys[layer]!.narrow(2, 0, len + s), values: this.#values[layer]!.narrow(2, 0, len + s) };
    }
    const capacity = this.#keys[layer]?.shape[2] ?? 0;
    if (len + s > capacity) this.#grow(layer, len, Math.max(len + s, this.reserve, Math.ceil(capacity * 1.5), len + s + 64), k, v);
    for (const [buf, src] of [[this.#keys[layer]!, k], [this.#values[layer]!, v]] as const) {
      const slot = buf.narrow(2, len, s); // [b, nkv, s, hd] view into the buffer
      slot.copy_(src);
      slot.dispose();
    }
    this.#lengths[layer] = len + s;
    return { keys: this.#keys[layer]!.narrow(2, 0, len + s), values: this.#values[layer]!.narrow(2, 0, len + s) };
  }

  /** Moves layer `layer` into buffers of `capacity` positions, keeping the first `len`. */
  #grow(layer: number, len: number, capacity: number, k: Tensor, v: Tensor): void {
    const [b, nkv, , hd] = k.shape;
    const make = (like: Tensor, old: Tensor | null): Tensor => {
      const buf = keep(empty([b, nkv, capacity, hd], { dtype: like.dtype, device: like.device }));
      if (old && len > 0) {
        const dst = buf.narrow(2, 0, len);
        const src = old.narrow(2, 0, len);
        dst.copy_(src);
        dst.dispose();
        src.dispose();
      }
      return buf;
    };
    this.#replace(layer, make(k, this.#keys[layer] ?? null), make(v, this.#values[layer] ?? null));
  }

  #replace(layer: number, keys: Tensor, values: Tensor): void {
    this.#keys[layer]?.dispose();
    this.#values[layer]?.dispose();
    this.#keys[layer] = keys;
    this.#values[layer] = values;
  }

  /** Frees every stored tensor; the cache is empty afterwards and can be reused. */
  dispose(): void {
    for (const t of [...this.#keys, ...this.#values]) t?.dispose();
    this.#keys = [];
    this.#values = [];
    this.#lengths = [];
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
