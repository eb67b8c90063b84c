// Tensor creation: from JS data or bytes, constant fills, ranges and random draws.
import { type DType, type Device, checkDevice, checkDtype, dtypeSize } from './dtype.js';
import { ArgumentError, expected } from '../errors.js';
import { native } from './native.js';
import { type NestedArray, Tensor, wrap } from './tensor.js';

/** Options shared by creation functions. */
export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

function checkShape(shape: unknown, name = 'shape'): number[] {
  if (Array.isArray(shape) && shape.every((v) => Number.isInteger(v) && v >= 0)) return shape as number[];
  throw expected('an array of non-negative integers', name, shape);
}

function finish(t: Tensor, opts: CreateOptions | undefined): Tensor {
  if (opts?.requiresGrad) t.requiresGrad_(true);
  return t;
}

function make(fn: 'empty' | 'zeros' | 'ones' | 'randn' | 'rand', shape: number[], opts?: CreateOptions, dflt: DType = 'float32'): Tensor {
  const h = native[fn](checkShape(shape), checkDtype(opts?.dtype ?? dflt), checkDevice(opts?.device ?? 'cpu'));
  return finish(wrap(h), opts);
}

/** Uninitialised tensor. */
export const empty = (shape: number[], opts?: CreateOptions): Tensor => make('empty', shape, opts);
export const zeros = (shape: number[], opts?: CreateOptions): Tensor => make('zeros', shape, opts);
export const ones = (shape: number[], opts?: CreateOptions): Tensor => make('ones', shape, opts);
/** Standard normal draws from the global generator (see `manualSeed`). */
export const randn = (shape: number[], opts?: CreateOptions): Tensor => make('randn', shape, opts);
/** Uniform draws in [0, 1). */
export const rand = (shape: number[], opts?: CreateOptions): Tensor => make('rand', shape, opts);

/**
 * A tensor filled with `value`; the dtype defaults to float32 for numbers (JS cannot tell 1 from 1.0, so unlike
 * torch.full an integer value does not give int64) and bool for booleans.
 */
export function full(shape: number[], value: number | boolean, opts?: CreateOptions): Tensor {
  const dflt: DType = typeof value === 'boolean' ? 'bool' : 'float32';
  const h = native.full(checkShape(shape), checkDtype(opts?.dtype ?? dflt), checkDevice(opts?.device ?? 'cpu'), value);
  return finish(wrap(h), opts);
}

/** Integers drawn uniformly from [low, high). */
export function randint(low: number, high: number, shape: number[], opts?: CreateOptions): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) throw expected('integers low < high', 'randint(low, high)', [low, high]);
  return wrap(native.randint(checkShape(shape), checkDtype(opts?.dtype ?? 'int64'), checkDevice(opts?.device ?? 'cpu'), low, high));
}

/**
 * Values from `start` to `end` (exclusive) by `step`, like torch.arange: `arange(5)`, `arange(2, 8, 2)`.
 * Integer arguments give int64, otherwise float32.
 */
export function arange(start: number, end?: number, step = 1, opts?: CreateOptions): Tensor {
  if (end === undefined) [start, end] = [0, start];
  for (const [k, v] of [['start', start], ['end', end], ['step', step]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw expected('a finite number', `arange ${k}`, v);
  }
  if (step === 0) throw expected('a non-zero step', 'arange step', step);
  const dflt: DType = [start, end, step].every(Number.isInteger) ? 'int64' : 'float32';
  return finish(wrap(native.arange(start, end, step, checkDtype(opts?.dtype ?? dflt), checkDevice(opts?.device ?? 'cpu'))), opts);
}

const LIKE = { zeros: 0, ones: 1, empty: 2, randn: 3, rand: 4 } as const;
export const zerosLike = (t: Tensor): Tensor => wrap(native.like(t.handle, LIKE.zeros));
export const onesLike = (t: Tensor): Tensor => wrap(native.like(t.handle, LIKE.ones));
export const emptyLike = (t: Tensor): Tensor => wrap(native.like(t.handle, LIKE.empty));
export const randnLike = (t: Tensor): Tensor => wrap(native.like(t.handle, LIKE.randn));
export const randLike = (t: Tensor): Tensor => wrap(native.like(t.handle, LIKE.rand));

type Typed = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array;

function typedDtype(a: Typed): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Uint8Array) return 'uint8';
  // Uint16/Uint32/BigUint64/Float16 arrays have no libtorch dtype of the same bits; DataView has no element type.
  throw expected('a Float32/Float64/Int32/Int16/Int8/Uint8/BigInt64 array', 'tensor data', a);
}

/** Infers the shape of nested arrays and checks that they are rectangular. */
function nestedShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function flatten(data: NestedArray, shape: number[]): (number | boolean)[] {
  const out: (number | boolean)[] = [];
  const walk = (v: NestedArray, d: number, path: string): void => {
    if (d === shape.length) {
      if (typeof v !== 'number' && typeof v !== 'boolean') throw expected('a number or boolean', `tensor data${path}`, v);
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[d]) {
      throw expected(`an array of length ${shape[d]} (the data must be rectangular)`, `tensor data${path}`, v);
    }
    for (let i = 0; i < v.length; i++) walk(v[i], d + 1, `${path}[${i}]`);
  };
  walk(data, 0, '');
  return out;
}

/**
 * Makes a tensor from nested arrays or a typed array (copied). Nested numbers give float32 unless all are
 * integers (int64); booleans give bool; a typed array keeps its own type. `shape` reshapes a typed array.
 *
 * @example
 * const x = tensor([[1, 2], [3, 4]], { dtype: 'float32' });
 */
export function tensor(data: NestedArray | Typed, opts: CreateOptions & { shape?: number[] } = {}): Tensor {
  let src: Typed;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    src = data as Typed;
    shape = opts.shape ? checkShape(opts.shape) : [src.length];
  } else {
    shape = nestedShape(data);
    const flat = flatten(data, shape);
    if (flat.length > 0 && flat.every((v) => typeof v === 'boolean')) src = Uint8Array.from(flat as boolean[], Number);
    else if (flat.some((v) => typeof v === 'boolean')) throw expected('numbers or booleans, not a mix', 'tensor data', data);
    else if ((flat as number[]).every(Number.isInteger) && flat.length > 0 && !(opts.dtype && opts.dtype !== 'int64')) {
      src = BigInt64Array.from(flat as number[], (v) => BigInt(v));
    } else src = Float64Array.from(flat as number[]);
    if (opts.shape) throw new ArgumentError('tensor(): `shape` applies to typed arrays only; nested arrays carry their shape');
  }
  const isBoolSrc = !ArrayBuffer.isView(data) && src instanceof Uint8Array;
  const srcDtype: DType = isBoolSrc ? 'bool' : typedDtype(src);
  const defaultDtype: DType = ArrayBuffer.isView(data) ? srcDtype : srcDtype === 'float64' ? 'float32' : srcDtype;
  const target = opts.dtype ?? defaultDtype;
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel !== src.length) throw expected(`${numel} values for shape [${shape.join(', ')}]`, 'tensor data', `${src.length} values`);
  const device = checkDevice(opts.device ?? 'cpu');
  let t = wrap(native.fromBytes(src, 0, src.byteLength, shape, srcDtype, 'cpu'));
  if (target !== srcDtype) {
    const c = t.to(target);
    t.dispose();
    t = c;
  }
  if (device !== 'cpu') {
    const m = t.to(device);
    t.dispose();
    t = m;
  }
  return finish(t, opts);
}

/**
 * Makes a tensor of `dtype` and `shape` from raw little-endian bytes in `buffer` starting at `byteOffset`
 * (one copy, into libtorch's memory). This is how checkpoints are loaded. With `as`, the bytes (of `dtype`) are
 * converted to that dtype as they are copied, with no intermediate tensor of `dtype`.
 */
export function fromBuffer(buffer: ArrayBufferView | ArrayBuffer, opts: { dtype: DType; shape: number[]; byteOffset?: number; device?: Device; as?: DType }): Tensor {
  if (!(buffer instanceof ArrayBuffer || ArrayBuffer.isView(buffer))) throw expected('a Buffer, TypedArray or ArrayBuffer', 'fromBuffer(buffer)', buffer);
  const dtype = checkDtype(opts.dtype);
  const shape = checkShape(opts.shape, 'fromBuffer shape');
  const byteOffset = opts.byteOffset ?? 0;
  if (!Number.isSafeInteger(byteOffset) || byteOffset < 0) throw expected('a non-negative integer', 'fromBuffer byteOffset', byteOffset);
  const length = shape.reduce((a, b) => a * b, 1) * dtypeSize(dtype);
  if (byteOffset + length > buffer.byteLength) {
    throw expected(`a byte range inside the buffer of ${buffer.byteLength} bytes`, `fromBuffer ${dtype}[${shape.join(', ')}] (${length} bytes)`,
      `bytes [${byteOffset}, ${byteOffset + length})`);
  }
  const as = opts.as === undefined ? undefined : checkDtype(opts.as);
  return wrap(native.fromBytes(buffer, byteOffset, length, shape, dtype, checkDevice(opts.device ?? 'cpu'), as));
}
