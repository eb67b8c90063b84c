// Key/value cache for incremental decoding: per layer, the rotated keys and the values of every position seen so
// far, [batch, kvHeads, seen, headDim]. Its tensors live outside scopes; the cache frees them on update and dispose.
import { cat } from '../tensor/functional.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * The past of a generation. Pass the same cache to successive `forward` calls; each call appends its positions.
 *
 * @example
 * const cache = new KVCache();
 * model.forward(prompt, { attentionMask, cache });          // prefill
 * model.forward(nextToken, { attentionMask: longer, cache }); // one step
 * cache.dispose();
 */
export class KVCache {
  #keys: (Tensor | null)[] = [];
  #values: (Tensor | null)[] = [];

  /** Number of positions stored (those of layer 0). */
  get length(): number {
    const k = this.#keys[0];
    return k ? (k.shape[2] as number) : 0;
  }

  /** Appends `k`, `v` [batch, kvHeads, seq, headDim] to layer `layer`; returns the whole past, [batch, kvHeads, seen, headDim]. */
  update(layer: number, k: Tensor, v: Tensor): { keys: Tensor; values: Tensor } {
    const oldK = this.#keys[layer] ?? null;
    const oldV = this.#values[layer] ?? null;
    const keys = keep(oldK ? cat([oldK, k], 2) : k.clone());
    const values = keep(oldV ? cat([oldV, v], 2) : v.clone());
    oldK?.dispose();
    oldV?.dispose();
    this.#keys[layer] = keys;
    this.#values[layer] = values;
    return { keys, values };
  }

  /** Frees every stored tensor; the cache is empty afterwards and can be reused. */
  dispose(): void {
    for (const t of [...this.#keys, ...this.#values]) t?.dispose();
    this.#keys = [];
    this.#values = [];
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
