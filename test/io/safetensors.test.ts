import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tensor, FormatError } from 'bfpo';
import { loadSafetensors, saveSafetensors, readSafetensorsHeader, SafetensorsFile } from 'bfpo/io';
import { tmpDir } from './tmp-dir.js';

const fixtures = new URL('../fixtures/io/', import.meta.url).pathname;
const tmp = (): string => tmpDir('bfpo-st-');

/** Builds a safetensors file by hand: header object and data bytes. */
function craft(header: unknown, data = Buffer.alloc(0), rawHeader?: Buffer): Buffer {
  const h = rawHeader ?? Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.byteLength));
  return Buffer.concat([len, h, data]);
}
function expectError(bytes: Buffer, pattern: RegExp): void {
  const p = join(tmp(), 'bad.safetensors');
  writeFileSync(p, bytes);
  assert.throws(() => readSafetensorsHeader(p), (err: Error) => err instanceof FormatError && pattern.test(err.message) && err.message.includes(p));
}

test('reads a file written independently by PyTorch (all dtypes, scalar, empty)', () => {
  const expect = JSON.parse(readFileSync(join(fixtures, 'mixed.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
  const h = readSafetensorsHeader(join(fixtures, 'mixed.safetensors'));
  assert.deepEqual(h.metadata, { format: 'pt', note: 'made by io-safetensors.py' });
  const w = loadSafetensors(join(fixtures, 'mixed.safetensors'));
  assert.deepEqual([...w.keys()].sort(), Object.keys(expect).sort());
  assert.equal(w.get('b.f16')!.dtype, 'float16');
  assert.equal(w.get('c.bf16')!.dtype, 'bfloat16');
  assert.equal(w.get('e.bool')!.dtype, 'bool');
  for (const [k, { shape, values }] of Object.entries(expect)) {
    const t = w.get(k)!;
    assert.deepEqual(t.shape, shape, k);
    const got = Array.from(t.toTypedArray() as ArrayLike<number | bigint>, (v) => Number(v));
    assert.deepEqual(got, values.map(Number), k);
  }
});

test('dtype option converts floating tensors only', () => {
  const w = loadSafetensors(join(fixtures, 'mixed.safetensors'), { dtype: 'float32' });
  assert.equal(w.get('b.f16')!.dtype, 'float32');
  assert.equal(w.get('d.i64')!.dtype, 'int64');
  assert.throws(() => loadSafetensors(join(fixtures, 'mixed.safetensors'), { dtype: 'int32' }), /Expected a floating dtype for loadSafetensors dtype/);
});

test('save then load round-trips values, dtypes and metadata; header is 8-byte aligned and sorted', () => {
  const dir = tmp();
  const p = join(dir, 'm.safetensors');
  const tensors = {
    'z.weight': tensor([[1.5, -2], [3, 4]], { dtype: 'bfloat16' }),
    'a.bias': tensor([1, 2, 3], { dtype: 'int32' }),
    'm.half': tensor([0.1, 0.2], { dtype: 'float16' }),
  };
  saveSafetensors(p, tensors, { format: 'pt' });
  assert.deepEqual(readdirSync(dir), ['m.safetensors'], 'no temporary file is left behind');
  const bytes = readFileSync(p);
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString());
  assert.deepEqual(Object.keys(header), ['__metadata__', 'a.bias', 'm.half', 'z.weight']);
  const back = loadSafetensors(p);
  for (const [k, t] of Object.entries(tensors)) {
    assert.equal(back.get(k)!.dtype, t.dtype);
    assert.deepEqual(back.get(k)!.toArray(), t.toArray());
  }
  assert.deepEqual(readSafetensorsHeader(p).metadata, { format: 'pt' });
});

test('lazy access reads one tensor by name and names a missing one', () => {
  const f = SafetensorsFile.open(join(fixtures, 'mixed.safetensors'));
  try {
    assert.equal(f.bytes('a.f32').byteLength, 24);
    assert.throws(() => f.bytes('nope'), /"nope": no such tensor in this file/);
  } finally {
    f.close();
  }
  assert.throws(() => f.bytes('a.f32'), /file is closed/);
});

test('malformed files are rejected with an error naming the file and the tensor', () => {
  const f32 = (begin: number, end: number, shape = [2]): object => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  expectError(Buffer.alloc(5), /too short for a safetensors header/);
  expectError(craft(undefined, Buffer.alloc(0), Buffer.from('{}')).subarray(0, 9), /header length 2 exceeds the 1 bytes/);
  const huge = Buffer.alloc(8); huge.writeBigUInt64LE(2n ** 63n);
  expectError(Buffer.concat([huge, Buffer.from('{}')]), /header length 9223372036854775808 exceeds/);
  expectError(craft(undefined, undefined, Buffer.from('[1, 2]  ')), /header is not UTF-8 JSON: the header does not start with "\{"/);
  expectError(craft(undefined, undefined, Buffer.from('{"a": ')), /header is not UTF-8 JSON/);
  expectError(craft(undefined, undefined, Buffer.from([0x7b, 0xff, 0x7d])), /header is not UTF-8 JSON/);
  expectError(craft({ __metadata__: { a: 1 } }), /"__metadata__": metadata value of "a" must be a string/);
  expectError(craft({ __metadata__: [] }), /"__metadata__": must be an object of strings/);
  expectError(craft({ w: 3 }), /"w": entry is not an object/);
  expectError(craft({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, Buffer.alloc(1)), /"w": unsupported dtype "F8_E4M3"/);
  expectError(craft({ w: f32(0, 8, [-2]) }, Buffer.alloc(8)), /"w": shape must be an array of non-negative integers/);
  expectError(craft({ w: f32(0, 8, [2.5]) }, Buffer.alloc(8)), /"w": shape must be/);
  expectError(craft({ w: { dtype: 'F32', shape: [2], data_offsets: [0] } }, Buffer.alloc(8)), /"w": data_offsets must be \[begin, end\]/);
  expectError(craft({ w: f32(0, 16) }, Buffer.alloc(8)), /"w": data_offsets \[0, 16\] lie outside the data area of 8 bytes/);
  expectError(craft({ w: f32(8, 0) }, Buffer.alloc(8)), /"w": data_offsets \[8, 0\] lie outside/);
  expectError(craft({ w: f32(0, 4) }, Buffer.alloc(4)), /"w": shape \[2\] of F32 needs 8 bytes but data_offsets span 4/);
  expectError(craft({ w: f32(0, 8), v: f32(4, 12) }, Buffer.alloc(12)), /"v": data_offsets \[4, 12\] overlap another tensor/);
  expectError(craft({ w: f32(0, 8), v: f32(12, 20) }, Buffer.alloc(20)), /"v": bytes 8\.\.12 of the data area belong to no tensor/);
  expectError(craft({ w: f32(0, 8) }, Buffer.alloc(12)), /data area has 12 bytes but the tensors cover only 8/);
});

test('writer rejects bad arguments', () => {
  const p = join(tmp(), 'x.safetensors');
  assert.throws(() => saveSafetensors(p, { w: tensor([1]) }, { a: 1 as unknown as string }), /Expected a string for safetensors metadata "a"/);
  assert.throws(() => saveSafetensors(p, { __metadata__: tensor([1]) }), /Expected a tensor name other than __metadata__/);
});

test('tensors beyond 2 GB into the file are read with positioned reads (sparse file, no disk used)', () => {
  const big = 2 ** 31 + 8; // U8 filler of 2 GiB + 8 bytes, then a small F32 tensor after it
  const header = Buffer.from(JSON.stringify({
    filler: { dtype: 'U8', shape: [big], data_offsets: [0, big] },
    tail: { dtype: 'F32', shape: [2], data_offsets: [big, big + 8] },
  }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.byteLength));
  const p = join(tmp(), 'sparse.safetensors');
  writeFileSync(p, Buffer.concat([len, header]));
  const fd = openSync(p, 'r+');
  writeSync(fd, Buffer.from(new Float32Array([1.5, -2]).buffer), 0, 8, 8 + header.byteLength + big);
  closeSync(fd);
  const f = SafetensorsFile.open(p);
  try {
    assert.equal(f.header.tensors.length, 2);
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(f.bytes('tail')).buffer)), [1.5, -2]);
  } finally {
    f.close();
  }
});
