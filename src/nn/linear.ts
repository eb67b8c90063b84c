// Linear layer: y = x @ weight^T + bias, with HF's parameter names `weight` [out, in] and `bias` [out].
import { expected } from '../errors.js';
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

  constructor(inFeatures: number, outFeatures: number, opts: ModuleOptions & { bias?: boolean; tensors?: { weight: Tensor; bias: Tensor | null } } = {}) {
    super();
    if (!Number.isInteger(inFeatures) || inFeatures <= 0) throw expected('a positive integer', 'inFeatures', inFeatures);
    if (!Number.isInteger(outFeatures) || outFeatures <= 0) throw expected('a positive integer', 'outFeatures', outFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const given = opts.tensors;
    this.weight = this.registerParameter('weight', given ? given.weight : normalParam([outFeatures, inFeatures], opts));
    const bias = given ? given.bias : opts.bias ? constantParam([outFeatures], 0, opts) : null;
    this.bias = bias ? this.registerParameter('bias', bias) : null;
  }

  /** A Linear that owns existing tensors: `weight` [out, in] and optionally `bias` [out] (no copy). */
  static fromTensors(weight: Tensor, bias: Tensor | null = null): Linear {
    if (weight.ndim !== 2) throw expected('a 2-D weight [out, in]', 'weight', weight);
    const [out, inF] = weight.shape;
    if (bias && (bias.ndim !== 1 || bias.shape[0] !== out)) throw expected(`a bias of shape [${out}]`, 'bias', bias);
    const requiresGrad = weight.requiresGrad;
    const l = new Linear(inF, out, { tensors: { weight, bias } });
    l.requiresGrad_(requiresGrad);
    return l;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias); // [..., out]
  }
}
