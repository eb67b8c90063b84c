// Free functions over tensors: joining, selection, and the neural-network functions.
import { expected } from '../errors.js';
import { native } from './native.js';
import { Tensor, type TensorLike, wrap } from './tensor.js';

function tensors(list: unknown, name: string): Tensor[] {
  if (Array.isArray(list) && list.length > 0 && list.every((t) => t instanceof Tensor)) return list as Tensor[];
  throw expected('a non-empty array of tensors', name, list);
}

/** Concatenates along an existing dim. */
export function cat(list: Tensor[], dim = 0): Tensor {
  return wrap(native.cat(tensors(list, 'cat(tensors)').map((t) => t.handle), dim));
}
/** Stacks along a new dim. */
export function stack(list: Tensor[], dim = 0): Tensor {
  return wrap(native.stack(tensors(list, 'stack(tensors)').map((t) => t.handle), dim));
}
/** Elementwise `cond ? a : b`; `a` and `b` may be scalars. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const h = (x: TensorLike) => (x instanceof Tensor ? x.handle : x);
  return wrap(native.where(cond.handle, h(a), h(b)));
}
export const matmul = (a: Tensor, b: Tensor): Tensor => a.matmul(b);
export const bmm = (a: Tensor, b: Tensor): Tensor => a.bmm(b);
export const softmax = (x: Tensor, dim: number): Tensor => x.softmax(dim);
export const logSoftmax = (x: Tensor, dim: number): Tensor => x.logSoftmax(dim);
/** True when all values are close: |a - b| <= atol + rtol * |b|. */
export function allclose(a: Tensor, b: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
  return native.allclose(a.handle, b.handle, rtol, atol);
}
/** True when shapes and values are identical. */
export const equal = (a: Tensor, b: Tensor): boolean => native.equal(a.handle, b.handle);

/** `x @ weight^T + bias`, as torch.nn.functional.linear. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return wrap(native.linear(x.handle, weight.handle, bias ? bias.handle : null));
}
/** Rows of `weight` at `ids`. */
export function embedding(ids: Tensor, weight: Tensor): Tensor {
  return wrap(native.embedding(weight.handle, ids.handle));
}
/** Zeroes elements with probability `p` and scales the rest by 1/(1-p) when `training`. */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw expected('a probability in [0, 1]', 'dropout p', p);
  return wrap(native.dropout(x.handle, p, training));
}
/**
 * Root-mean-square normalisation over the last dim (in float32), times `weight`, as in Llama. On the CPU in
 * float32 and bfloat16 one fused kernel computes it and its gradients (native/fused.cc); elsewhere aten ops do.
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  return wrap(native.rmsNorm(x.handle, weight.handle, eps));
}
/**
 * `silu(gate) * up`, the gated activation of a SwiGLU feed-forward block; `gate` and `up` have the same shape. On
 * the CPU in float32 and bfloat16 one fused kernel computes it and its gradients; elsewhere aten ops do.
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  return wrap(native.swiglu(gate.handle, up.handle));
}

/**
 * The log-probability of each row's target token: `logSoftmax(logits.float(), 1).gather(1, targets[:, None])[:, 0]`
 * as one op. `logits` [n, vocab] (float32 or bfloat16 run fused on the CPU: each row is read in its own dtype, with
 * float32 max and logsumexp, and the backward writes the gradient once, in the logits' dtype), `targets` [n] int64
 * in [0, vocab) (a target outside it is an error naming it). Returns [n] float32 (float64 for float64 logits).
 * Other dtypes and devices compose libtorch's log_softmax and gather.
 *
 * @example const logps = tokenLogProbs(logits, targets); // [n]
 */
export function tokenLogProbs(logits: Tensor, targets: Tensor): Tensor {
  return wrap(native.tokenLogProbs(logits.handle, targets.handle));
}

const REDUCTIONS = { none: 0, mean: 1, sum: 2 } as const;
/**
 * Cross entropy of `logits` [N, C] (or [N, C, ...]) against class indices `target` [N], skipping `ignoreIndex`.
 *
 * @example
 * const loss = crossEntropy(logits.view(-1, vocab), labels.view(-1), { ignoreIndex: -100 });
 */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  { ignoreIndex = -100, reduction = 'mean', labelSmoothing = 0 }: { ignoreIndex?: number; reduction?: 'none' | 'mean' | 'sum'; labelSmoothing?: number } = {},
): Tensor {
  const r = REDUCTIONS[reduction];
  if (r === undefined) throw expected("'none', 'mean' or 'sum'", 'crossEntropy reduction', reduction);
  return wrap(native.crossEntropy(logits.handle, target.handle, ignoreIndex, r, labelSmoothing));
}

/**
 * Rotary position embedding of `x` [..., headDim] with tables `cos`, `sin` (broadcastable to `x`):
 * `x * cos + rotate_half(x) * sin`, where rotate_half([x1, x2]) = [-x2, x1] (HF Llama's convention). On the CPU
 * in float32 and bfloat16 (cos and sin without gradients) one fused kernel computes it and its gradient.
 */
export function applyRotaryEmbedding(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return wrap(native.rotary(x.handle, cos.handle, sin.handle));
}

/** Queries [queryStart, queryStart + queryLength) against the keys of `keys` ([start, length] ranges, laid end to end). */
export interface AttentionSpan {
  queryStart: number;
  queryLength: number;
  keys: [number, number][];
  /** bool [b or 1, 1, queryLength, keys]: true where a query may not see a key; null: it sees them all. */
  blocked: Tensor | null;
}

/**
 * Eager attention (plain products, float32 softmax) of `q`'s positions in parts, each against some of the key
 * positions only: `parts` tile the queries in order. Used for padding-free batches: every pair's queries against its
 * own keys, without cutting q, k and v into per-part slices in the autograd graph. In training only q, k and v are
 * kept; the probabilities are computed again in the backward pass. Same shapes as
 * {@link scaledDotProductAttention}; returns [b, nh, s, hd].
 *
 * @example
 * // Two sequences of 3 and 2 tokens back to back, each causal.
 * attentionInParts(q, k, v, [{ queryStart: 0, queryLength: 3, keys: [[0, 3]], blocked: causal3 }, { queryStart: 3, queryLength: 2, keys: [[3, 2]], blocked: causal2 }]);
 */
export function attentionInParts(q: Tensor, k: Tensor, v: Tensor, parts: AttentionSpan[], { scale }: { scale?: number } = {}): Tensor {
  const s = scale ?? 1 / Math.sqrt(q.shape[q.ndim - 1]);
  if (!(typeof s === 'number' && Number.isFinite(s) && s > 0)) throw expected('a positive number', 'attention scale', scale);
  const layout: number[] = [];
  for (const p of parts) {
    layout.push(p.queryStart, p.queryLength, p.keys.length);
    for (const [a, n] of p.keys) layout.push(a, n);
  }
  return wrap(native.attentionParts(q.handle, k.handle, v.handle, layout, parts.map((p) => (p.blocked ? p.blocked.handle : null)), s));
}

/** Which kernel computes attention: 'sdpa' (libtorch's scaled_dot_product_attention, 2.0+), 'eager' (plain products), or 'auto'. */
export type AttentionKernel = 'auto' | 'eager' | 'sdpa';
const KERNELS: Record<AttentionKernel, number> = { auto: 0, eager: 1, sdpa: 2 };

/**
 * Scaled dot-product attention with grouped key/value heads: `q` [b, nh, s, hd], `k` and `v` [b, nkv, t, hd] with
 * nh a multiple of nkv (query head j reads key/value head floor(j / (nh / nkv))). `blocked` (bool, broadcastable
 * to [b, 1, s, t]) marks the pairs a query may not attend to; a query that may attend to nothing gets a meaningless
 * row instead of NaN. `kernel` 'eager' multiplies plainly with a float32 softmax (on the CPU, for float32 and
 * bfloat16 with a [1 or b, 1, s, t] mask or none, the scale, the mask and the softmax are one fused pass over the
 * scores, forward and backward; otherwise aten ops compose them); 'sdpa' calls libtorch's
 * scaled_dot_product_attention (flash / memory-efficient kernels on CUDA; libtorch 2.0 or newer, see fastPaths());
 * 'auto' (the default) takes sdpa where it exists. Returns [b, nh, s, hd].
 *
 * @example
 * const out = scaledDotProductAttention(q, k, v, { blocked: causalMask, scale: 1 / Math.sqrt(hd) });
 */
export function scaledDotProductAttention(
  q: Tensor, k: Tensor, v: Tensor, { blocked = null, scale, kernel = 'auto' }: { blocked?: Tensor | null; scale?: number; kernel?: AttentionKernel } = {},
): Tensor {
  const hd = q.shape[q.ndim - 1];
  const s = scale ?? 1 / Math.sqrt(hd);
  if (!(typeof s === 'number' && Number.isFinite(s) && s > 0)) throw expected('a positive number', 'attention scale', scale);
  const code = KERNELS[kernel];
  if (code === undefined) throw expected("'auto', 'eager' or 'sdpa'", 'attention kernel', kernel);
  return wrap(native.attention(q.handle, k.handle, v.handle, blocked ? blocked.handle : null, s, code));
}
