// Fresh parameter tensors for the layers: normal draws, constants, or uninitialised memory for weights to be loaded.
import { empty, full, randn } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ModuleOptions } from './module.js';

/** Hugging Face's default `initializer_range`. */
export const INIT_STD = 0.02;

/** A weight drawn from N(0, INIT_STD^2), or left empty with `init: 'empty'`. */
export function normalParam(shape: number[], opts: ModuleOptions): Tensor {
  const o = { dtype: opts.dtype ?? 'float32', device: opts.device ?? 'cpu' } as const;
  if (opts.init === 'empty') return empty(shape, o);
  const r = randn(shape, o);
  const w = r.mul(INIT_STD);
  r.dispose();
  return w;
}

/** A parameter filled with `value` (norm weights start at one, biases at zero), or empty with `init: 'empty'`. */
export function constantParam(shape: number[], value: number, opts: ModuleOptions): Tensor {
  const o = { dtype: opts.dtype ?? 'float32', device: opts.device ?? 'cpu' } as const;
  return opts.init === 'empty' ? empty(shape, o) : full(shape, value, o);
}
