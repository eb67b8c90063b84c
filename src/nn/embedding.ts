// Token embedding table with HF's parameter name `weight` [vocab, dim].
import { expected } from '../errors.js';
import { embedding } from '../tensor/functional.js';
import type { Tensor } from '../tensor/tensor.js';
import { normalParam } from './init.js';
import { Module, type ModuleOptions } from './module.js';

/**
 * A lookup table of `numEmbeddings` vectors of size `dim` (as torch.nn.Embedding).
 *
 * @example
 * const embed = new Embedding(32000, 4096);
 * const h = embed.forward(ids); // [batch, seq] int64 -> [batch, seq, 4096]
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly dim: number;
  readonly weight: Tensor; // [vocab, dim]

  constructor(numEmbeddings: number, dim: number, opts: ModuleOptions = {}) {
    super();
    if (!Number.isInteger(numEmbeddings) || numEmbeddings <= 0) throw expected('a positive integer', 'numEmbeddings', numEmbeddings);
    if (!Number.isInteger(dim) || dim <= 0) throw expected('a positive integer', 'dim', dim);
    this.numEmbeddings = numEmbeddings;
    this.dim = dim;
    this.weight = this.registerParameter('weight', normalParam([numEmbeddings, dim], opts));
  }

  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight); // [..., dim]
  }
}
