// Autograd switches and gradient utilities.
import { expected } from '../errors.js';
import { native } from './native.js';
import { type Tensor, wrap } from './tensor.js';

/**
 * Runs `fn` with gradient recording off (like `with torch.no_grad()`); `fn` must be synchronous.
 * @example const y = noGrad(() => model.forward(x));
 */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs `fn` with gradient recording on, even inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export const isGradEnabled = (): boolean => native.isGradEnabled();

/**
 * Runs `fn` in inference mode (like `with torch.inference_mode()`): faster than noGrad, and tensors made
 * inside can never take part in autograd later. `fn` must be synchronous.
 */
export function inferenceMode<T>(fn: () => T): T {
  const guard = native.enterInferenceMode();
  try {
    return fn();
  } finally {
    native.exitInferenceMode(guard);
  }
}

export const isInferenceMode = (): boolean => native.isInferenceMode();

/**
 * Scales the gradients of `params` in place so that their global `normType`-norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_. Returns the norm before clipping.
 */
export function clipGradNorm_(params: Tensor[], maxNorm: number, normType = 2): number {
  if (!(maxNorm > 0)) throw expected('a positive number', 'maxNorm', maxNorm);
  if (!(normType > 0)) throw expected('a positive number or Infinity', 'normType', normType);
  return native.clipGradNorm(params.map((p) => p.handle), maxNorm, normType);
}

/**
 * The global `normType`-norm of the gradients of `params` (each accumulated in float32, bfloat16 gradients
 * included) as a float32 0-d tensor, the gradients unchanged: the norm clip_grad_norm_ would clip by.
 * @example const norm = gradNormTensor(params); const scale = clipCoefficient(1.0, norm.item());
 */
export function gradNormTensor(params: Tensor[], normType = 2): Tensor {
  if (!(normType > 0)) throw expected('a positive number or Infinity', 'normType', normType);
  return wrap(native.gradNorm(params.map((p) => p.handle), normType));
}

/**
 * The factor clip_grad_norm_ multiplies the gradients by for a total norm `norm`: min(1, maxNorm / (norm + 1e-6)),
 * in float32 arithmetic as libtorch computes it.
 */
export function clipCoefficient(maxNorm: number, norm: number): number {
  const f = Math.fround;
  return Math.min(1, f(f(maxNorm) / f(f(norm) + f(1e-6))));
}

/**
 * `clipGradNorm_` returning the norm as a float32 0-d tensor on the gradients' device instead of a number, so the
 * caller can read it together with other values (one wait for the device instead of one per value).
 * @example const norm = clipGradNormTensor_(params, 1.0); const [n] = readScalars([['norm', norm]]);
 */
export function clipGradNormTensor_(params: Tensor[], maxNorm: number, normType = 2): Tensor {
  if (!(maxNorm > 0)) throw expected('a positive number', 'maxNorm', maxNorm);
  if (!(normType > 0)) throw expected('a positive number or Infinity', 'normType', normType);
  return wrap(native.clipGradNorm(params.map((p) => p.handle), maxNorm, normType, true));
}
