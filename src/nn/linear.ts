// Linear layer: y = x @ weight^T + bias, with HF's parameter names `weight` [out, in] and `bias` [out].
import { expected } from '../tensor/errors.js';
import { linear } from '../tensor/functional.js';
import type { Tensor } from '../tensor/tensor.js';
import { constantParam, normalParam } from './init.js';
import { Module, type ModuleOptions } from './module.js';

/** Anything that maps [..., in] to [..., out] like a Linear: the seam where adapters such as LoRA plug in. */
export interface LinearLike extends Module {
  forward(x: Tensor): Tensor;
}

/**
 * A fully connected layer (as torch.nn.Linear).
 *
 * @example
 * const proj = new Linear(32, 64, { bias: false });
 * const y = proj.forward(x); // [batch, seq, 32] -> [batch, seq, 64]
 */
export class Linear extends Module implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Tensor; // [out, in]
  readonly bias: Tensor | null; // [out]

  constructor(inFeatures: number, outFeatures: number, opts: ModuleOptions & { bias?: boolean } = {}) {
    super();
    if (!Number.isInteger(inFeatures) || inFeatures <= 0) throw expected('a positive integer', 'inFeatures', inFeatures);
    if (!Number.isInteger(outFeatures) || outFeatures <= 0) throw expected('a positive integer', 'outFeatures', outFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = this.registerParameter('weight', normalParam([outFeatures, inFeatures], opts));
    this.bias = opts.bias ? this.registerParameter('bias', constantParam([outFeatures], 0, opts)) : null;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias); // [..., out]
  }
}
