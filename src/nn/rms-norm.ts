// Root-mean-square normalisation with a learned scale `weight` [dim], computed in float32 as HF Llama does.
import { expected } from '../errors.js';
import { rmsNorm } from '../tensor/functional.js';
import type { Tensor } from '../tensor/tensor.js';
import { constantParam } from './init.js';
import { Module, type ModuleOptions } from './module.js';

/**
 * y = weight * x / sqrt(mean(x^2) + eps) over the last dim; the statistics are taken in float32 and the
 * normalised value is cast back to the input dtype before the scale, as in HF's LlamaRMSNorm.
 *
 * @example
 * const norm = new RMSNorm(4096, { eps: 1e-5 });
 * const y = norm.forward(x); // [batch, seq, 4096]
 */
export class RMSNorm extends Module {
  readonly eps: number;
  readonly weight: Tensor; // [dim]

  constructor(dim: number, opts: ModuleOptions & { eps?: number } = {}) {
    super();
    if (!Number.isInteger(dim) || dim <= 0) throw expected('a positive integer', 'dim', dim);
    const eps = opts.eps ?? 1e-6;
    if (!(typeof eps === 'number' && eps > 0)) throw expected('a positive number', 'eps', eps);
    this.eps = eps;
    this.weight = this.registerParameter('weight', constantParam([dim], 1, opts));
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps); // same shape as x
  }
}
