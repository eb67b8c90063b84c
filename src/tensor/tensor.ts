// The Tensor class: a typed handle on a libtorch tensor, with PyTorch's method names in camelCase.
// Every op returns a new tensor that the caller owns (see scope.ts); in-place ops end in `_` and return `this`.
import { type DType, type Device, DTYPES, checkDevice, checkDtype, isFloatingDtype } from './dtype.js';
import { ArgumentError, expected } from '../errors.js';
import { BINARY, type Handle, INPLACE, REDUCE, UNARY, native } from './native.js';
import { track } from './scope.js';

/** A number or boolean that broadcasts like a Python scalar. */
export type Scalar = number | boolean;
/** A tensor or a scalar operand. */
export type TensorLike = Tensor | Scalar;
/** Nested arrays of numbers or booleans. */
export type NestedArray = Scalar | NestedArray[];

function operand(x: TensorLike, name: string): Handle | Scalar {
  if (x instanceof Tensor) return x.handle;
  if (typeof x === 'number' || typeof x === 'boolean') return x;
  throw expected('a Tensor, number or boolean', name, x);
}

function int(x: unknown, name: string): number {
  if (typeof x === 'number' && Number.isInteger(x)) return x;
  throw expected('an integer', name, x);
}

function ints(x: unknown, name: string): number[] {
  if (Array.isArray(x) && x.every((v) => typeof v === 'number' && Number.isInteger(v))) return x as number[];
  throw expected('an array of integers', name, x);
}

function dims(x: number | number[] | undefined, name: string): number[] | null {
  if (x === undefined) return null;
  return typeof x === 'number' ? [int(x, name)] : ints(x, name);
}

/** Wraps a native handle in a Tensor registered with the current scope. */
export function wrap(h: Handle): Tensor {
  return new Tensor(h);
}

// The safety net: a tensor that is garbage collected without dispose() frees its native memory here. Disposed
// tensors are unregistered, so they cost the collector nothing.
const finalizer = new FinalizationRegistry<Handle>((h) => native.dispose(h));

export class Tensor {
  #h: Handle;
  #disposed = false;
  #shape: number[] | undefined;
  #dtype: DType | undefined;

  /** @internal Tensors are made by creation functions and ops, not by `new`. */
  constructor(handle: Handle) {
    this.#h = handle;
    finalizer.register(this, handle, this);
    track(this);
  }

  /**
   * @internal The native handle. A disposed tensor keeps its (emptied) handle, so that an op given it fails with
   * a TorchError that names the op and its inputs.
   */
  get handle(): Handle {
    return this.#h;
  }

  #alive(what: string): void {
    if (this.#disposed) throw new ArgumentError(`Tensor.${what}: this tensor was already disposed; it cannot be used again`);
  }

  // ------------------------------------------------------------------------------------------- metadata
  get shape(): number[] {
    this.#alive('shape');
    return (this.#shape ??= native.shape(this.handle)).slice();
  }
  get dtype(): DType {
    this.#alive('dtype');
    return (this.#dtype ??= DTYPES[native.dtype(this.handle)]);
  }
  get device(): Device {
    return native.device(this.handle) as Device;
  }
  /** Number of dimensions. */
  get ndim(): number {
    this.#alive('ndim');
    return (this.#shape ??= native.shape(this.handle)).length;
  }
  dim(): number {
    return this.ndim;
  }
  /** Size of one dimension (negative counts from the end), or the whole shape. */
  size(d?: number): number | number[] {
    if (d === undefined) return this.shape;
    this.#alive('size');
    const s = (this.#shape ??= native.shape(this.handle));
    const i = int(d, 'dim') < 0 ? d + s.length : d;
    if (i < 0 || i >= s.length) throw expected(`a dim in [${-s.length}, ${s.length - 1}]`, 'dim', d);
    return s[i];
  }
  numel(): number {
    return native.numel(this.handle);
  }
  get isDisposed(): boolean {
    return this.#disposed;
  }
  isContiguous(): boolean {
    return native.isContiguous(this.handle);
  }

  /** Frees the native memory now. Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    finalizer.unregister(this);
    native.dispose(this.#h);
    this.#disposed = true;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    if (this.#disposed) return 'Tensor(<disposed>)';
    return `Tensor(${this.dtype}[${this.shape.join(', ')}]${this.device === 'cpu' ? '' : ` on ${this.device}`})`;
  }

  // ------------------------------------------------------------------------------------------- reading back
  /** The single value of a one-element tensor. */
  item(): number {
    return Number(native.item(this.handle));
  }
  /** The raw little-endian bytes (contiguous, on CPU). The Buffer shares memory with a private copy, not with this tensor. */
  toBuffer(): Buffer {
    return native.toBytes(this.handle);
  }
  /**
   * The values as a typed array matching the dtype (float16 and bfloat16 come back as Float32Array, bool as
   * Uint8Array, int64 as BigInt64Array).
   */
  toTypedArray(): Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array {
    const dt = this.dtype;
    if (dt === 'float16' || dt === 'bfloat16') {
      const f = wrap(native.toDtype(this.handle, 'float32'));
      try {
        return f.toTypedArray();
      } finally {
        f.dispose();
      }
    }
    const b = this.toBuffer();
    const args = [b.buffer, b.byteOffset] as const;
    switch (dt) {
      case 'float32': return new Float32Array(args[0], args[1], b.byteLength / 4);
      case 'float64': return new Float64Array(args[0], args[1], b.byteLength / 8);
      case 'int64': return new BigInt64Array(args[0], args[1], b.byteLength / 8);
      case 'int32': return new Int32Array(args[0], args[1], b.byteLength / 4);
      case 'int16': return new Int16Array(args[0], args[1], b.byteLength / 2);
      case 'int8': return new Int8Array(args[0], args[1], b.byteLength);
      default: return new Uint8Array(args[0], args[1], b.byteLength);
    }
  }
  /** The values as nested JS arrays (numbers, or booleans for bool tensors). int64 beyond 2^53 loses precision. */
  toArray(): NestedArray {
    const flat = this.toTypedArray();
    const isBool = this.dtype === 'bool';
    const get = (i: number): Scalar => (isBool ? flat[i] !== 0 : Number(flat[i]));
    const shape = this.shape;
    if (shape.length === 0) return get(0);
    let pos = 0;
    const build = (d: number): NestedArray[] => {
      const out: NestedArray[] = new Array(shape[d]);
      for (let i = 0; i < shape[d]; i++) out[i] = d === shape.length - 1 ? get(pos++) : build(d + 1);
      return out;
    };
    return build(0);
  }

  // ------------------------------------------------------------------------------------------- conversion
  /**
   * Converts to a dtype or moves to a device. Always returns a new handle to dispose; as in PyTorch, when nothing
   * changes it shares memory with this tensor (use `clone()` for an independent copy).
   */
  to(target: DType | Device): Tensor {
    if ((DTYPES as readonly string[]).includes(target)) return wrap(native.toDtype(this.handle, checkDtype(target as DType)));
    return wrap(native.toDevice(this.handle, checkDevice(target, 'to(target)')));
  }
  float(): Tensor { return this.to('float32'); }
  half(): Tensor { return this.to('float16'); }
  bfloat16(): Tensor { return this.to('bfloat16'); }
  double(): Tensor { return this.to('float64'); }
  long(): Tensor { return this.to('int64'); }
  int(): Tensor { return this.to('int32'); }
  bool(): Tensor { return this.to('bool'); }
  cpu(): Tensor { return this.to('cpu'); }
  cuda(index = 0): Tensor { return this.to(`cuda:${int(index, 'index')}`); }

  // ------------------------------------------------------------------------------------------- unary math
  #u(op: string): Tensor { return wrap(native.unary(UNARY[op], this.handle)); }
  neg(): Tensor { return this.#u('neg'); }
  exp(): Tensor { return this.#u('exp'); }
  log(): Tensor { return this.#u('log'); }
  sqrt(): Tensor { return this.#u('sqrt'); }
  rsqrt(): Tensor { return this.#u('rsqrt'); }
  abs(): Tensor { return this.#u('abs'); }
  sigmoid(): Tensor { return this.#u('sigmoid'); }
  logSigmoid(): Tensor { return this.#u('logSigmoid'); }
  silu(): Tensor { return this.#u('silu'); }
  /** GELU; `approximate: 'tanh'` uses the tanh approximation. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return this.#u(approximate === 'tanh' ? 'geluTanh' : 'gelu'); }
  tanh(): Tensor { return this.#u('tanh'); }
  relu(): Tensor { return this.#u('relu'); }
  sin(): Tensor { return this.#u('sin'); }
  cos(): Tensor { return this.#u('cos'); }
  square(): Tensor { return this.#u('square'); }
  reciprocal(): Tensor { return this.#u('reciprocal'); }
  sign(): Tensor { return this.#u('sign'); }
  floor(): Tensor { return this.#u('floor'); }
  ceil(): Tensor { return this.#u('ceil'); }
  round(): Tensor { return this.#u('round'); }
  log1p(): Tensor { return this.#u('log1p'); }
  expm1(): Tensor { return this.#u('expm1'); }
  isnan(): Tensor { return this.#u('isnan'); }
  isinf(): Tensor { return this.#u('isinf'); }
  isfinite(): Tensor { return this.#u('isfinite'); }
  logicalNot(): Tensor { return this.#u('logicalNot'); }
  contiguous(): Tensor { return this.#u('contiguous'); }
  clone(): Tensor { return this.#u('clone'); }
  /** Transpose of a 2-D tensor. */
  t(): Tensor { return this.#u('t'); }

  // ------------------------------------------------------------------------------------------- binary math
  #b(op: string, other: TensorLike): Tensor { return wrap(native.binary(BINARY[op], this.handle, operand(other, op))); }
  add(other: TensorLike): Tensor { return this.#b('add', other); }
  sub(other: TensorLike): Tensor { return this.#b('sub', other); }
  mul(other: TensorLike): Tensor { return this.#b('mul', other); }
  div(other: TensorLike): Tensor { return this.#b('div', other); }
  pow(exponent: TensorLike): Tensor { return this.#b('pow', exponent); }
  eq(other: TensorLike): Tensor { return this.#b('eq', other); }
  ne(other: TensorLike): Tensor { return this.#b('ne', other); }
  lt(other: TensorLike): Tensor { return this.#b('lt', other); }
  le(other: TensorLike): Tensor { return this.#b('le', other); }
  gt(other: TensorLike): Tensor { return this.#b('gt', other); }
  ge(other: TensorLike): Tensor { return this.#b('ge', other); }
  maximum(other: TensorLike): Tensor { return this.#b('maximum', other); }
  minimum(other: TensorLike): Tensor { return this.#b('minimum', other); }
  logicalAnd(other: TensorLike): Tensor { return this.#b('logicalAnd', other); }
  logicalOr(other: TensorLike): Tensor { return this.#b('logicalOr', other); }
  remainder(other: TensorLike): Tensor { return this.#b('remainder', other); }
  floorDivide(other: TensorLike): Tensor { return this.#b('floorDivide', other); }
  matmul(other: Tensor): Tensor { return this.#b('matmul', other); }
  bmm(other: Tensor): Tensor { return this.#b('bmm', other); }
  mm(other: Tensor): Tensor { return this.#b('mm', other); }
  clamp(min?: number | null, max?: number | null): Tensor {
    if (min == null && max == null) throw new ArgumentError('clamp needs at least one of min and max');
    return wrap(native.clamp(this.handle, min ?? null, max ?? null));
  }

  // ------------------------------------------------------------------------------------------- reductions
  #r(op: string, dim: number | number[] | undefined, keepdim: boolean): Tensor {
    return wrap(native.reduce(REDUCE[op], this.handle, dims(dim, 'dim'), keepdim));
  }
  sum(dim?: number | number[], keepdim = false): Tensor { return this.#r('sum', dim, keepdim); }
  mean(dim?: number | number[], keepdim = false): Tensor { return this.#r('mean', dim, keepdim); }
  amax(dim?: number | number[], keepdim = false): Tensor { return this.#r('amax', dim, keepdim); }
  amin(dim?: number | number[], keepdim = false): Tensor { return this.#r('amin', dim, keepdim); }
  logsumexp(dim?: number | number[], keepdim = false): Tensor { return this.#r('logsumexp', dim, keepdim); }
  prod(dim?: number, keepdim = false): Tensor { return this.#r('prod', dim, keepdim); }
  /** Unbiased variance. */
  var(dim?: number | number[], keepdim = false): Tensor { return this.#r('var', dim, keepdim); }
  /** Unbiased standard deviation. */
  std(dim?: number | number[], keepdim = false): Tensor { return this.#r('std', dim, keepdim); }
  all(dim?: number | number[], keepdim = false): Tensor { return this.#r('all', dim, keepdim); }
  any(dim?: number | number[], keepdim = false): Tensor { return this.#r('any', dim, keepdim); }
  /** Largest value overall (no dim), or `{ values, indices }` along `dim`. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return this.#r('amax', undefined, false);
    const [values, indices] = native.maxDim(this.handle, int(dim, 'dim'), keepdim);
    return { values: wrap(values), indices: wrap(indices) };
  }
  /** Smallest value overall (no dim), or `{ values, indices }` along `dim`. */
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return this.#r('amin', undefined, false);
    const [values, indices] = native.minDim(this.handle, int(dim, 'dim'), keepdim);
    return { values: wrap(values), indices: wrap(indices) };
  }
  argmax(dim?: number, keepdim = false): Tensor { return wrap(native.argmax(this.handle, dim ?? null, keepdim)); }
  argmin(dim?: number, keepdim = false): Tensor { return wrap(native.argmin(this.handle, dim ?? null, keepdim)); }
  cumsum(dim: number): Tensor { return wrap(native.cumsum(this.handle, int(dim, 'dim'))); }
  /** p-norm over all elements or over `dim`. */
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor {
    return wrap(native.norm(this.handle, p, dims(dim, 'dim'), keepdim));
  }
  softmax(dim: number): Tensor { return wrap(native.softmax(this.handle, int(dim, 'dim'))); }
  logSoftmax(dim: number): Tensor { return wrap(native.logSoftmax(this.handle, int(dim, 'dim'))); }

  // ------------------------------------------------------------------------------------------- shape
  reshape(...shape: number[] | [number[]]): Tensor { return wrap(native.reshape(this.handle, ints(shape.flat(), 'shape'))); }
  view(...shape: number[] | [number[]]): Tensor { return wrap(native.view(this.handle, ints(shape.flat(), 'shape'))); }
  permute(...order: number[] | [number[]]): Tensor { return wrap(native.permute(this.handle, ints(order.flat(), 'dims'))); }
  transpose(dim0: number, dim1: number): Tensor { return wrap(native.transpose(this.handle, int(dim0, 'dim0'), int(dim1, 'dim1'))); }
  /** `length` elements of `dim` starting at `start` (a view). */
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(native.narrow(this.handle, int(dim, 'dim'), int(start, 'start'), int(length, 'length')));
  }
  /** Python-style slice `[start:end:step]` along `dim` (a view); negative bounds count from the end. */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return wrap(native.slice(this.handle, int(dim, 'dim'), start ?? null, end ?? null, int(step, 'step')));
  }
  /** Index `index` of `dim`, removing that dim (like `t[:, i]`). */
  select(dim: number, index: number): Tensor { return wrap(native.select(this.handle, int(dim, 'dim'), int(index, 'index'))); }
  indexSelect(dim: number, index: Tensor): Tensor { return wrap(native.indexSelect(this.handle, int(dim, 'dim'), index.handle)); }
  gather(dim: number, index: Tensor): Tensor { return wrap(native.gather(this.handle, int(dim, 'dim'), index.handle)); }
  scatter(dim: number, index: Tensor, src: TensorLike): Tensor {
    return wrap(native.scatter(this.handle, int(dim, 'dim'), index.handle, operand(src, 'src')));
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return wrap(native.scatterAdd(this.handle, int(dim, 'dim'), index.handle, src.handle));
  }
  expand(...shape: number[] | [number[]]): Tensor { return wrap(native.expand(this.handle, ints(shape.flat(), 'shape'))); }
  expandAs(other: Tensor): Tensor { return this.expand(other.shape); }
  repeat(...reps: number[] | [number[]]): Tensor { return wrap(native.repeat(this.handle, ints(reps.flat(), 'repeats'))); }
  repeatInterleave(repeats: number, dim: number): Tensor {
    return wrap(native.repeatInterleave(this.handle, int(repeats, 'repeats'), int(dim, 'dim')));
  }
  unsqueeze(dim: number): Tensor { return wrap(native.unsqueeze(this.handle, int(dim, 'dim'))); }
  squeeze(dim?: number): Tensor { return wrap(native.squeeze(this.handle, dim === undefined ? null : int(dim, 'dim'))); }
  flatten(startDim = 0, endDim = -1): Tensor { return wrap(native.flatten(this.handle, int(startDim, 'startDim'), int(endDim, 'endDim'))); }
  tril(diagonal = 0): Tensor { return wrap(native.tril(this.handle, int(diagonal, 'diagonal'))); }
  triu(diagonal = 0): Tensor { return wrap(native.triu(this.handle, int(diagonal, 'diagonal'))); }
  maskedFill(mask: Tensor, value: TensorLike): Tensor { return wrap(native.maskedFill(this.handle, mask.handle, operand(value, 'value'))); }
  flip(...dimsToFlip: number[] | [number[]]): Tensor { return wrap(native.flip(this.handle, ints(dimsToFlip.flat(), 'dims'))); }
  /** Splits into pieces of `size` (a number) or of the given sizes along `dim`. */
  split(size: number | number[], dim = 0): Tensor[] {
    const total = this.size(dim) as number;
    let sizes: number[];
    if (typeof size === 'number') {
      if (!Number.isInteger(size) || size <= 0) throw expected('a positive integer', 'split size', size);
      sizes = [];
      for (let s = 0; s < total; s += size) sizes.push(Math.min(size, total - s));
    } else {
      sizes = ints(size, 'split sizes');
    }
    return native.split(this.handle, sizes, int(dim, 'dim')).map(wrap);
  }
  chunk(chunks: number, dim = 0): Tensor[] { return native.chunk(this.handle, int(chunks, 'chunks'), int(dim, 'dim')).map(wrap); }
  nonzero(): Tensor { return wrap(native.nonzero(this.handle)); }

  // ------------------------------------------------------------------------------------------- ordering, sampling
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [values, indices] = native.topk(this.handle, int(k, 'k'), int(dim, 'dim'), largest, sorted);
    return { values: wrap(values), indices: wrap(indices) };
  }
  /** Stable sort along `dim`. */
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = native.sort(this.handle, int(dim, 'dim'), descending);
    return { values: wrap(values), indices: wrap(indices) };
  }
  argsort(dim = -1, descending = false): Tensor {
    const { values, indices } = this.sort(dim, descending);
    values.dispose();
    return indices;
  }
  /** Draws `numSamples` indices per row from the (unnormalised) probabilities in this tensor. */
  multinomial(numSamples: number, replacement = false): Tensor {
    return wrap(native.multinomial(this.handle, int(numSamples, 'numSamples'), replacement));
  }

  // ------------------------------------------------------------------------------------------- in place
  #i(op: string, other: TensorLike): this { native.inplace(INPLACE[op], this.handle, operand(other, op)); return this; }
  /** `this += alpha * other` */
  add_(other: TensorLike, alpha = 1): this {
    if (alpha !== 1) {
      if (!(other instanceof Tensor)) return this.#i('add_', Number(other) * alpha);
      native.addScaled_(this.handle, other.handle, alpha);
      return this;
    }
    return this.#i('add_', other);
  }
  sub_(other: TensorLike): this { return this.#i('sub_', other); }
  mul_(other: TensorLike): this { return this.#i('mul_', other); }
  div_(other: TensorLike): this { return this.#i('div_', other); }
  pow_(exponent: TensorLike): this { return this.#i('pow_', exponent); }
  copy_(src: Tensor): this { return this.#i('copy_', src); }
  fill_(value: TensorLike): this { return this.#i('fill_', value); }
  zero_(): this { native.zero_(this.handle); return this; }
  clamp_(min?: number | null, max?: number | null): this {
    if (min == null && max == null) throw new ArgumentError('clamp_ needs at least one of min and max');
    native.clamp_(this.handle, min ?? null, max ?? null);
    return this;
  }
  maskedFill_(mask: Tensor, value: Scalar): this { native.maskedFill_(this.handle, mask.handle, value); return this; }
  /** Copies `src` rows into positions `index` of `dim`. */
  indexCopy_(dim: number, index: Tensor, src: Tensor): this {
    native.indexCopy_(this.handle, int(dim, 'dim'), index.handle, src.handle);
    return this;
  }

  // ------------------------------------------------------------------------------------------- autograd
  get requiresGrad(): boolean { return native.requiresGrad(this.handle); }
  set requiresGrad(v: boolean) { this.requiresGrad_(v); }
  /** Marks this (leaf, floating-point) tensor as needing gradients. Returns `this`. */
  requiresGrad_(v = true): this {
    if (v && !isFloatingDtype(this.dtype)) throw expected('a floating-point tensor', 'requiresGrad_', this);
    native.setRequiresGrad(this.handle, v);
    return this;
  }
  get isLeaf(): boolean { return native.isLeaf(this.handle); }
  /** The accumulated gradient (a new handle on it), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : wrap(g);
  }
  set grad(g: Tensor | null) { native.setGrad(this.handle, g === null ? null : g.handle); }
  /** Back-propagates from this tensor (a scalar unless `gradient` is given). */
  backward(gradient?: Tensor, { retainGraph = false } = {}): void {
    native.backward(this.handle, gradient ? gradient.handle : null, retainGraph);
  }
  /**
   * Makes this tensor hold `src`'s data (dtype, device, shape may change) while staying the same object and the
   * same autograd leaf, like `param.data = src` in PyTorch. `src` may be disposed afterwards. Returns `this`.
   */
  setData_(src: Tensor): this {
    native.setData(this.handle, src.handle);
    this.#shape = undefined;
    this.#dtype = undefined;
    return this;
  }
  /** A view that shares data but takes no part in autograd. */
  detach(): Tensor { return wrap(native.detach(this.handle)); }
}
