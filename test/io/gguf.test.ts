import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, tensor } from 'bfpo';
import { readGguf, readGgufTensor, readGgufTensorBytes, writeGguf, type GgufValue } from 'bfpo/io';
import { floatToHalf, halfToFloat, quantizeQ8_0, dequantizeQ8_0 } from '../../src/io/gguf-quant.js';
import { tmpDir } from './tmp-dir.js';
import { rng } from './rng.js';

const fixtures = new URL('../fixtures/io/', import.meta.url).pathname;
const tiny = join(fixtures, 'llama-2-tiny-random.gguf');
const tmp = (): string => tmpDir('bfpo-gguf-');

test('reads the header of a GGUF v3 file made by llama.cpp tooling', () => {
  const g = readGguf(tiny);
  assert.equal(g.version, 3);
  assert.equal(g.alignment, 32);
  assert.deepEqual(g.metadata['general.architecture'], { type: 'string', value: 'llama' });
  assert.deepEqual(g.metadata['llama.attention.head_count'], { type: 'uint32', value: 2 });
  const tokens = g.metadata['tokenizer.ggml.tokens'];
  assert.ok(tokens.type === 'array' && tokens.itemType === 'string');
  assert.equal(tokens.value.length, 32000);
  assert.deepEqual(tokens.value.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
  assert.equal(g.tensors.length, 12);
  const q = g.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
  assert.deepEqual([q.shape, q.type, q.byteLength], [[8, 8], 'F16', 128]);
  const embd = g.tensors.find((t) => t.name === 'token_embd.weight')!;
  assert.deepEqual(embd.shape, [32000, 8]);
  const norm = readGgufTensor(g, 'output_norm.weight');
  assert.equal(norm.dtype, 'float32');
  assert.equal(readGgufTensor(g, 'token_embd.weight').bytes.byteLength, 32000 * 8 * 2);
  assert.throws(() => readGgufTensor(g, 'nope'), /"nope": no such tensor in this file/);
  assert.throws(() => readGgufTensorBytes(g, 'nope'), /"nope": no such tensor in this file/);
});

const ALL_TYPES: Record<string, GgufValue> = {
  u8: { type: 'uint8', value: 255 }, i8: { type: 'int8', value: -128 }, u16: { type: 'uint16', value: 65535 },
  i16: { type: 'int16', value: -300 }, u32: { type: 'uint32', value: 4294967295 }, i32: { type: 'int32', value: -5 },
  f32: { type: 'float32', value: 0.5 }, b: { type: 'bool', value: true }, s: { type: 'string', value: 'héllo 😀' },
  u64: { type: 'uint64', value: 2n ** 64n - 1n }, i64: { type: 'int64', value: -(2n ** 63n) }, f64: { type: 'float64', value: Math.PI },
  arrS: { type: 'array', itemType: 'string', value: ['a', '', 'ü'] }, arrF: { type: 'array', itemType: 'float32', value: [1.5, -2] },
  arrB: { type: 'array', itemType: 'bool', value: [true, false] }, arrI64: { type: 'array', itemType: 'int64', value: [1n, -1n] },
  empty: { type: 'array', itemType: 'int32', value: [] },
};

test('write then read returns every metadata type and the tensor bytes (F32, F16, BF16, Q8_0)', () => {
  const p = join(tmp(), 'all.gguf');
  const f32 = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float32' });
  const q8 = quantizeQ8_0(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)));
  writeGguf(p, {
    metadata: { ...ALL_TYPES, 'general.alignment': { type: 'uint32', value: 64 } },
    tensors: {
      a: { type: 'F32', shape: [2, 3], data: f32.toBuffer() },
      h: { type: 'F16', shape: [3], data: tensor([1, -2, 0.5], { dtype: 'float16' }).toBuffer() },
      bf: { type: 'BF16', shape: [1, 2], data: () => tensor([[3, -1]], { dtype: 'bfloat16' }).toBuffer() },
      q: { type: 'Q8_0', shape: [2, 32], data: q8 },
    },
  });
  const g = readGguf(p);
  assert.equal(g.alignment, 64);
  for (const [k, v] of Object.entries(ALL_TYPES)) assert.deepEqual(g.metadata[k], v, k);
  for (const t of g.tensors) assert.equal((t.offset - g.dataStart) % 64, 0);
  assert.deepEqual(readGgufTensor(g, 'a'), { dtype: 'float32', shape: [2, 3], bytes: f32.toBuffer() });
  assert.equal(readGgufTensor(g, 'h').dtype, 'float16');
  assert.equal(readGgufTensor(g, 'bf').dtype, 'bfloat16');
  const q = readGgufTensor(g, 'q');
  assert.deepEqual([q.dtype, q.shape], ['float32', [2, 32]]);
  assert.deepEqual(readGgufTensorBytes(g, 'q'), q8);
});

test('Q8_0 quantisation equals a numpy implementation of ggml\'s reference, and dequantises within d/2', () => {
  const fx = JSON.parse(readFileSync(join(fixtures, 'q8_0.json'), 'utf8')) as { input_f32_hex: string; q8_0_hex: string };
  const raw = Buffer.from(fx.input_f32_hex, 'hex');
  const x = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const q = quantizeQ8_0(x);
  assert.equal(q.toString('hex'), fx.q8_0_hex);
  const back = dequantizeQ8_0(q, x.length);
  const y = new Float32Array(back.buffer, back.byteOffset, x.length);
  for (let b = 0; b < x.length / 32; b++) {
    const d = halfToFloat(q.readUInt16LE(b * 34));
    for (let i = b * 32; i < (b + 1) * 32; i++) assert.ok(Math.abs(x[i] - y[i]) <= d / 2 + 127 * 2 ** -24 + Math.abs(x[i]) * 1e-3, `value ${i}`); // plus float16 rounding of d
  }
});

test('float16 conversion in JS equals libtorch\'s rounding', () => {
  const values = [0, -0, 1, -1, 0.1, 65504, 65520, 1e-8, 6e-8, 3.14159, -2.5e-5, 1e5, Infinity, -Infinity, 0.333333, 2049, 2051];
  const want = tensor(values, { dtype: 'float32' }).to('float16').toBuffer();
  assert.deepEqual(values.map((v) => floatToHalf(v)), Array.from({ length: values.length }, (_, i) => want.readUInt16LE(2 * i)));
  assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
});

test('writer rejects bad metadata and tensors', () => {
  const p = join(tmp(), 'x.gguf');
  const w = (metadata: Record<string, unknown>, tensors: Record<string, unknown> = {}): void =>
    writeGguf(p, { metadata: metadata as Record<string, GgufValue>, tensors: tensors as never });
  assert.throws(() => w({ k: { type: 'uint8', value: 300 } }), /Expected a value in the range of uint8 for GGUF metadata k/);
  assert.throws(() => w({ k: { type: 'int32', value: 1.5 } }), /Expected an integer for GGUF metadata k/);
  assert.throws(() => w({ k: { type: 'string', value: 3 } }), /Expected a string for GGUF metadata k/);
  assert.throws(() => w({ k: { type: 'bool', value: 1 } }), /Expected a boolean for GGUF metadata k/);
  assert.throws(() => w({ k: { type: 'thing', value: 1 } }), /Expected a GGUF value type/);
  assert.throws(() => w({ k: { type: 'array', itemType: 'array', value: [] } }), /Expected an array value with a scalar itemType/);
  assert.throws(() => w({ 'general.alignment': { type: 'uint32', value: 3 } }), /Expected a uint32 power of two for general.alignment/);
  assert.throws(() => w({}, { t: { type: 'Q4_0', shape: [32], data: Buffer.alloc(18) } }), /Expected one of F32, F16, Q8_0, BF16 for type of tensor t/);
  assert.throws(() => w({}, { t: { type: 'F32', shape: [], data: Buffer.alloc(4) } }), /Expected 1 to 4 non-negative integer dimensions for shape of tensor t/);
  assert.throws(() => w({}, { t: { type: 'Q8_0', shape: [2, 8], data: Buffer.alloc(0) } }), /Expected rows of a multiple of 32 values for Q8_0/);
  assert.throws(() => w({}, { t: { type: 'F32', shape: [2], data: Buffer.alloc(4) } }), /Expected 8 bytes for data of tensor t but received "4 bytes"/);
});

/** A valid small GGUF to corrupt. */
function smallGguf(): Buffer {
  const p = join(tmp(), 's.gguf');
  writeGguf(p, {
    metadata: { 'general.architecture': { type: 'string', value: 'llama' }, arr: { type: 'array', itemType: 'string', value: ['x', 'yy'] }, n: { type: 'uint32', value: 7 } },
    tensors: { a: { type: 'F32', shape: [2, 2], data: Buffer.alloc(16) }, b: { type: 'F16', shape: [3], data: Buffer.alloc(6) } },
  });
  return readFileSync(p);
}

test('malformed GGUF files are rejected with errors naming the file and the field', () => {
  const good = smallGguf();
  const p = join(tmp(), 'bad.gguf');
  const check = (bytes: Buffer, re: RegExp): void => {
    writeFileSync(p, bytes);
    assert.throws(() => readGguf(p), (e: Error) => e instanceof FormatError && e.message.startsWith(p) && re.test(e.message), re.source);
  };
  check(Buffer.from('GGML....'), /is not a GGUF file \(starts with "GGML", expected "GGUF"\)/);
  const v2 = Buffer.from(good); v2.writeUInt32LE(2, 4);
  writeFileSync(p, v2);
  assert.equal(readGguf(p).version, 2); // v2 and v3 share the little-endian layout
  const v1 = Buffer.from(good); v1.writeUInt32LE(1, 4);
  check(v1, /GGUF version 1 is not supported \(bfpo reads versions 2 and 3\)/);
  check(good.subarray(0, 10), /file ends inside tensor count/);
  check(good.subarray(0, 60), /file ends inside|larger than the file can hold/);
  const hugeCount = Buffer.from(good); hugeCount.writeBigUInt64LE(2n ** 40n, 8);
  check(hugeCount, /tensor count 1099511627776 is larger than the file can hold/);
  // Type code of the first metadata value: after magic, version, counts (24 bytes) and the key string.
  const keyLen = Number(good.readBigUInt64LE(24));
  const typeAt = 24 + 8 + keyLen;
  const badType = Buffer.from(good); badType.writeUInt32LE(99, typeAt);
  check(badType, /"general.architecture": unknown metadata value type 99/);
  const trunc = Buffer.from(good);
  check(trunc.subarray(0, trunc.byteLength - 30), /"b": data \(6 bytes at offset 32\) lies outside the file/);
  const g = readGguf(join(fixtures, 'llama-2-tiny-random.gguf'));
  assert.ok(g.tensors.length > 0);
});

test('tensor-info problems: dimensions, type, alignment and overlap', () => {
  const good = smallGguf();
  const p = join(tmp(), 'bad.gguf');
  const at = good.indexOf(Buffer.from('a', 'latin1'), good.indexOf(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x61])) + 8); // tensor name "a"
  const dimsAt = at + 1; // n_dims u32, then dims, type u32, offset u64
  const edit = (fn: (b: Buffer) => void): Buffer => { const b = Buffer.from(good); fn(b); return b; };
  const check = (bytes: Buffer, re: RegExp): void => {
    writeFileSync(p, bytes);
    assert.throws(() => readGguf(p), re);
  };
  check(edit((b) => b.writeUInt32LE(7, dimsAt)), /"a": has 7 dimensions \(ggml allows 1 to 4\)/);
  check(edit((b) => b.writeUInt32LE(2, dimsAt + 4 + 16)), /"a": tensor type 2 is not supported \(bfpo reads F32, F16, BF16 and Q8_0/);
  check(edit((b) => b.writeBigUInt64LE(4n, dimsAt + 4 + 16 + 4)), /"a": data offset 4 is not a multiple of the alignment 32/);
  check(edit((b) => b.writeBigUInt64LE(32n, dimsAt + 4 + 16 + 4)), /"b": data overlaps tensor "a"|"a": data overlaps tensor "b"/);
});

test('400 seeded mutations and truncations of a GGUF file either read or throw FormatError', () => {
  const good = smallGguf();
  const rand = rng(99);
  const p = join(tmp(), 'fuzz.gguf');
  let rejected = 0;
  for (let i = 0; i < 400; i++) {
    let b = Buffer.from(good);
    if (i % 4 === 0) b = b.subarray(0, Math.floor(rand() * b.byteLength));
    else for (let h = 0; h < 1 + Math.floor(rand() * 3); h++) b[Math.floor(rand() * Math.min(b.byteLength, 200))] = Math.floor(rand() * 256);
    writeFileSync(p, b);
    try {
      const g = readGguf(p);
      for (const t of g.tensors) readGgufTensor(g, t.name);
    } catch (err) {
      assert.ok(err instanceof FormatError, `mutation ${i}: ${String(err)}`);
      rejected++;
    }
  }
  assert.ok(rejected > 150, `rejected ${rejected}`);
});
