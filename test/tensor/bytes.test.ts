// Bytes in and out: fromBuffer at any byte offset for every dtype (16-bit floats against known bit patterns),
// toBuffer round trips and privacy, toTypedArray per dtype, toArray nesting, tensor() from typed arrays, bools.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type DType, fromBuffer, tensor, tidy, zeros } from 'bfpo';
import { DTYPES, dtypeSize } from 'bfpo/tensor';

/** Little-endian bytes of `values` written with DataView's `set<Kind>` at `offset` inside `total` bytes of 0xEE filler. */
function bytes(total: number, offset: number, write: (v: DataView) => void): Buffer {
  const buf = Buffer.alloc(total, 0xee);
  write(new DataView(buf.buffer, buf.byteOffset + offset));
  return buf;
}

describe('fromBuffer', () => {
  test('as: converts while copying, bit for bit what a copy and then .to() gives, at unaligned offsets', () => {
    // float32 values chosen to round differently to bfloat16 (ties to even, up, down), and a float16 overflow.
    const vals = [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -9, -3.3e38, 70000.5, Number.NaN, -0, 1e-40];
    const buf = bytes(3 + 4 * vals.length, 3, (v) => vals.forEach((x, i) => v.setFloat32(4 * i, x, true)));
    for (const as of ['bfloat16', 'float16', 'float64', 'float32'] as const) {
      const direct = fromBuffer(buf, { dtype: 'float32', shape: [2, 4], byteOffset: 3, as });
      const plain = fromBuffer(buf, { dtype: 'float32', shape: [2, 4], byteOffset: 3 });
      const want = plain.to(as);
      assert.equal(direct.dtype, as);
      assert.deepEqual(direct.shape, [2, 4]);
      assert.deepEqual(direct.toBuffer(), want.toBuffer(), as);
      [direct, plain, want].forEach((t) => t.dispose());
    }
  });
  // For each dtype: values written at byte offset 3 (unaligned on purpose) and what toArray() must give.
  const cases: { dtype: DType; write: (v: DataView) => void; want: unknown[] }[] = [
    { dtype: 'float32', write: (v) => [1.5, -2.25, 1e-3].forEach((x, i) => v.setFloat32(4 * i, x, true)), want: [1.5, -2.25, Math.fround(1e-3)] },
    { dtype: 'float64', write: (v) => [Math.PI, -1e300, 5e-324].forEach((x, i) => v.setFloat64(8 * i, x, true)), want: [Math.PI, -1e300, 5e-324] },
    { dtype: 'int64', write: (v) => [-1n, 2n ** 40n, 7n].forEach((x, i) => v.setBigInt64(8 * i, x, true)), want: [-1, 2 ** 40, 7] },
    { dtype: 'int32', write: (v) => [-2147483648, 2147483647, 5].forEach((x, i) => v.setInt32(4 * i, x, true)), want: [-2147483648, 2147483647, 5] },
    { dtype: 'int16', write: (v) => [-32768, 32767, -3].forEach((x, i) => v.setInt16(2 * i, x, true)), want: [-32768, 32767, -3] },
    { dtype: 'int8', write: (v) => [-128, 127, 0].forEach((x, i) => v.setInt8(i, x)), want: [-128, 127, 0] },
    { dtype: 'uint8', write: (v) => [0, 255, 17].forEach((x, i) => v.setUint8(i, x)), want: [0, 255, 17] },
    { dtype: 'bool', write: (v) => [1, 0, 1].forEach((x, i) => v.setUint8(i, x)), want: [true, false, true] },
    // bfloat16: the top half of a float32. 0x3F80 = 1, 0xC049 = -3.140625, 0x7F80 = inf, 0x0001 = 2^-133.
    { dtype: 'bfloat16', write: (v) => [0x3f80, 0xc049, 0x7f80, 0x0001].forEach((x, i) => v.setUint16(2 * i, x, true)), want: [1, -3.140625, Infinity, 2 ** -133] },
    // float16: 0x3C00 = 1, 0xC000 = -2, 0x7BFF = 65504 (max), 0x0001 = 2^-24 (smallest subnormal), 0x3555 = 0.333251953125.
    { dtype: 'float16', write: (v) => [0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555].forEach((x, i) => v.setUint16(2 * i, x, true)), want: [1, -2, 65504, 2 ** -24, 0.333251953125] },
  ];
  for (const c of cases) {
    test(`${c.dtype} at an unaligned byte offset`, () => tidy(() => {
      const n = c.want.length;
      const buf = bytes(3 + n * dtypeSize(c.dtype) + 5, 3, c.write);
      const t = fromBuffer(buf, { dtype: c.dtype, shape: [n], byteOffset: 3 });
      assert.equal(t.dtype, c.dtype);
      assert.deepEqual(t.shape, [n]);
      assert.deepEqual(t.toArray(), c.want);
      // The bytes come back unchanged.
      assert.ok(t.toBuffer().equals(buf.subarray(3, 3 + n * dtypeSize(c.dtype))));
    }));
  }

  test('16-bit NaN keeps its bit pattern', () => tidy(() => {
    for (const dtype of ['bfloat16', 'float16'] as const) {
      const nan = dtype === 'bfloat16' ? 0x7fc0 : 0x7e00;
      const t = fromBuffer(bytes(2, 0, (v) => v.setUint16(0, nan, true)), { dtype, shape: [] });
      assert.ok(Number.isNaN(t.item()));
      assert.equal(t.toBuffer().readUInt16LE(0), nan);
    }
  }));

  test('reads from ArrayBuffers, typed-array views and pooled Buffers', () => tidy(() => {
    const f = new Float32Array([9, 1, 2, 3, 9]);
    assert.deepEqual(fromBuffer(f.buffer, { dtype: 'float32', shape: [3], byteOffset: 4 }).toArray(), [1, 2, 3]);
    const view = new Float32Array(f.buffer, 4, 3); // offset of the view plus byteOffset
    assert.deepEqual(fromBuffer(view, { dtype: 'float32', shape: [2], byteOffset: 4 }).toArray(), [2, 3]);
    const pooled = Buffer.from([0, 0, 0x80, 0x3f]); // a slice of Node's shared pool, byteOffset != 0
    assert.deepEqual(fromBuffer(pooled, { dtype: 'float32', shape: [1] }).toArray(), [1]);
  }));

  test('shapes: scalar, empty, 2-D', () => tidy(() => {
    const b = bytes(24, 0, (v) => [0, 1, 2, 3, 4, 5].forEach((x, i) => v.setInt32(4 * i, x, true)));
    assert.equal(fromBuffer(b, { dtype: 'int32', shape: [], byteOffset: 8 }).item(), 2);
    const empty = fromBuffer(b, { dtype: 'int32', shape: [0, 3], byteOffset: 24 });
    assert.deepEqual(empty.shape, [0, 3]);
    assert.deepEqual(empty.toArray(), []);
    assert.deepEqual(fromBuffer(b, { dtype: 'int32', shape: [2, 3] }).toArray(), [[0, 1, 2], [3, 4, 5]]);
  }));

  test('copies: changing the source buffer later does not change the tensor', () => tidy(() => {
    const b = Buffer.from(new Float32Array([1, 2]).buffer);
    const t = fromBuffer(b, { dtype: 'float32', shape: [2] });
    b.fill(0);
    assert.deepEqual(t.toArray(), [1, 2]);
  }));
});

describe('toBuffer', () => {
  test('round trips every dtype bit for bit', () => tidy(() => {
    for (const dtype of DTYPES) {
      const src = tensor([[0, 1, -2], [3, 100, -7]], { dtype: dtype === 'uint8' || dtype === 'bool' ? 'int64' : 'float32' })
        .abs().to(dtype);
      const back = fromBuffer(src.toBuffer(), { dtype, shape: src.shape });
      assert.ok(back.toBuffer().equals(src.toBuffer()), dtype);
      assert.deepEqual(back.toArray(), src.toArray(), dtype);
      assert.equal(src.toBuffer().byteLength, 6 * dtypeSize(dtype), dtype);
    }
  }));

  test('int64 beyond 2^53 keeps its exact bytes', () => tidy(() => {
    const big = 2n ** 62n + 1n;
    const t = tensor(BigInt64Array.of(big, -big));
    const b = t.toBuffer();
    assert.equal(b.readBigInt64LE(0), big);
    assert.equal(b.readBigInt64LE(8), -big);
    assert.deepEqual(Array.from(t.toTypedArray() as BigInt64Array), [big, -big]);
  }));

  test('a non-contiguous tensor gives row-major bytes of its logical layout', () => tidy(() => {
    const t = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'int32' }).t(); // [3, 2]
    assert.ok(!t.isContiguous());
    assert.deepEqual(Array.from(new Int32Array(new Uint8Array(t.toBuffer()).buffer)), [1, 4, 2, 5, 3, 6]);
    const sliced = tensor([0, 1, 2, 3, 4, 5, 6], { dtype: 'int32' }).slice(0, 1, null, 3); // [1, 4]
    assert.deepEqual(Array.from(new Int32Array(new Uint8Array(sliced.toBuffer()).buffer)), [1, 4]);
  }));

  test('the Buffer is private: later changes to the tensor or the Buffer do not leak across', () => tidy(() => {
    const t = tensor([1, 2, 3], { dtype: 'float32' });
    const b = t.toBuffer();
    t.add_(10);
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(b).buffer)), [1, 2, 3]);
    b.fill(0);
    assert.deepEqual(t.toArray(), [11, 12, 13]);
    const view = t.narrow(0, 1, 2);
    const vb = view.toBuffer();
    t.zero_();
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(vb).buffer)), [12, 13]);
  }));

  test('a tensor that requires grad and an empty tensor', () => tidy(() => {
    const p = zeros([2], { requiresGrad: true });
    assert.equal(p.toBuffer().byteLength, 8);
    assert.equal(zeros([0]).toBuffer().byteLength, 0);
  }));
});

describe('reading values back', () => {
  test('toTypedArray gives the matching typed array for each dtype', () => tidy(() => {
    const kinds: Record<DType, string> = {
      float32: 'Float32Array', float16: 'Float32Array', bfloat16: 'Float32Array', float64: 'Float64Array',
      int64: 'BigInt64Array', int32: 'Int32Array', int16: 'Int16Array', int8: 'Int8Array', uint8: 'Uint8Array', bool: 'Uint8Array',
    };
    for (const dtype of DTYPES) {
      const a = tensor([0, 1, 2], { dtype }).toTypedArray();
      assert.equal(a.constructor.name, kinds[dtype], dtype);
      assert.deepEqual(Array.from(a, Number), dtype === 'bool' ? [0, 1, 1] : [0, 1, 2], dtype);
    }
    assert.deepEqual(Array.from(tensor([1.1], { dtype: 'bfloat16' }).toTypedArray() as Float32Array), [1.1015625]);
  }));

  test('toArray nests by shape and keeps booleans', () => tidy(() => {
    assert.equal(tensor(2.5).toArray(), 2.5);
    assert.deepEqual(tensor([]).toArray(), []);
    assert.deepEqual(zeros([2, 0]).toArray(), [[], []]);
    assert.deepEqual(tensor([[[1, 2]], [[3, 4]]]).toArray(), [[[1, 2]], [[3, 4]]]);
    assert.deepEqual(tensor([[true, false], [false, true]]).toArray(), [[true, false], [false, true]]);
    assert.deepEqual(tensor([1, 0, 2]).gt(0).toArray(), [true, false, true]);
  }));

  test('item() for each kind of dtype', () => tidy(() => {
    assert.equal(tensor(-3).item(), -3);
    assert.equal(tensor(0.5, { dtype: 'float16' }).item(), 0.5);
    assert.equal(tensor(true).item(), 1);
    assert.equal(tensor([[7]], { dtype: 'int8' }).item(), 7);
  }));
});

describe('tensor() from JS data', () => {
  test('typed arrays keep their type, and shape reshapes them', () => tidy(() => {
    const t = tensor(new Int16Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    assert.equal(t.dtype, 'int16');
    assert.deepEqual(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
    assert.equal(tensor(new Float64Array([1])).dtype, 'float64');
    assert.equal(tensor(new Uint8Array([1])).dtype, 'uint8');
    assert.equal(tensor(BigInt64Array.of(1n)).dtype, 'int64');
    const scalar = tensor(new Float32Array([4]), { shape: [] });
    assert.deepEqual(scalar.shape, []);
  }));

  test('dtype converts typed arrays and nested arrays', () => tidy(() => {
    assert.deepEqual(tensor(new Float32Array([1.7, -1.7]), { dtype: 'int32' }).toArray(), [1, -1]);
    assert.deepEqual(tensor(new Uint8Array([0, 3, 1]), { dtype: 'bool' }).toArray(), [false, true, true]);
    assert.deepEqual(tensor([0.1], { dtype: 'float64' }).toArray(), [0.1]);
    assert.deepEqual(tensor([0.1]).toArray(), [Math.fround(0.1)]);
  }));

  test('bool tensors: creation, logic, arithmetic and conversion', () => tidy(() => {
    const a = tensor([true, false, true]);
    const b = tensor([true, true, false]);
    assert.equal(a.dtype, 'bool');
    assert.deepEqual(a.logicalAnd(b).toArray(), [true, false, false]);
    assert.deepEqual(a.logicalNot().toArray(), [false, true, false]);
    assert.equal(a.sum().item(), 2);
    assert.equal(a.sum().dtype, 'int64');
    assert.deepEqual(a.to('float32').toArray(), [1, 0, 1]);
    assert.deepEqual(a.toBuffer(), Buffer.from([1, 0, 1]));
    assert.deepEqual(tensor([2, 0, -1]).bool().toArray(), [true, false, true]);
  }));
});
