// Helpers shared by the engine tests that read golden fixtures made by scripts/fixtures/*.py: decoding encoded
// tensors into bfpo tensors and comparing bfpo tensors with encoded expectations.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DType, type Tensor, tensor } from 'bfpo';

/** A tensor as the fixture scripts write it: values flattened in row-major order, non-finite values as strings. */
export interface EncodedTensor {
  dtype: DType;
  shape: number[];
  data: (number | string)[];
  /** Raw little-endian bytes (float16 and bfloat16 only). */
  hex?: string;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Parses test/fixtures/tensor/<name>. */
export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(here, '..', 'fixtures', 'tensor', name), 'utf8')) as T;
}

/** A fixture value as a JS number ("nan", "inf" and "-inf" included). */
export function num(v: number | string): number {
  if (typeof v === 'number') return v;
  if (v === 'nan') return Number.NaN;
  if (v === 'inf') return Number.POSITIVE_INFINITY;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  throw new Error(`not a fixture number: ${v}`);
}

/** Builds the tensor with tensor(typedArray, { dtype, shape }). */
export function decodeTensor(e: EncodedTensor): Tensor {
  const vals = e.data.map(num);
  let src: Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
  switch (e.dtype) {
    case 'float64': src = Float64Array.from(vals); break;
    case 'int64': src = BigInt64Array.from(vals, (v) => BigInt(v)); break;
    case 'int32': src = Int32Array.from(vals); break;
    case 'int16': src = Int16Array.from(vals); break;
    case 'int8': src = Int8Array.from(vals); break;
    case 'uint8': case 'bool': src = Uint8Array.from(vals); break;
    default: src = Float32Array.from(vals);
  }
  return tensor(src, { dtype: e.dtype, shape: e.shape });
}

/** True when `a` is within `atol + rtol * |b|` of `b`; NaN matches NaN and infinities match exactly. */
export function close(a: number, b: number, rtol: number, atol: number): boolean {
  if (Number.isNaN(b)) return Number.isNaN(a);
  if (!Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= atol + rtol * Math.abs(b);
}

/** Asserts dtype, shape and values of `t` against `e`. `exact` also compares the bytes of 16-bit floats. */
export function assertTensor(t: Tensor, e: EncodedTensor, label: string, tol: { rtol: number; atol: number }, exact = false): void {
  assert.equal(t.dtype, e.dtype, `${label}: dtype`);
  assert.deepEqual(t.shape, e.shape, `${label}: shape`);
  if (exact && e.hex !== undefined) assert.equal(t.toBuffer().toString('hex'), e.hex, `${label}: bytes`);
  const got = Array.from(t.toTypedArray(), Number);
  const want = e.data.map(num);
  assert.equal(got.length, want.length, `${label}: number of values`);
  const floating = e.dtype.startsWith('float') || e.dtype === 'bfloat16';
  for (let i = 0; i < want.length; i++) {
    // Zeros must match in sign too (-0 and 0 behave differently under division and log).
    const ok = floating ? close(got[i], want[i], tol.rtol, tol.atol) && (want[i] !== 0 || Object.is(got[i], want[i])) : got[i] === want[i];
    if (!ok) assert.fail(`${label}: value ${i} is ${got[i]}, expected ${want[i]} (all: [${got.slice(0, 12).join(', ')}${got.length > 12 ? ', ...' : ''}])`);
  }
}
