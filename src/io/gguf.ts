// GGUF files (llama.cpp's format): magic "GGUF", version, typed key/value metadata, tensor infos, then
// aligned tensor data. This file reads and writes the container; gguf-llama.ts maps it to Hugging Face layout.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { expected } from '../errors.js';
import { FormatError } from './errors.js';
import { writeAtomic } from './atomic.js';
import { type ByteReader, runReader } from './byte-reads.js';
import { Q8_0_BLOCK, Q8_0_BYTES, dequantizeQ8_0, halfToFloat } from './gguf-quant.js';

/** Metadata value types, by their GGUF codes. */
export type GgufScalarType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'bool' | 'string' | 'uint64' | 'int64' | 'float64';
const TYPE_CODES: (GgufScalarType | 'array')[] = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64'];
const SCALAR_SIZE: Record<Exclude<GgufScalarType, 'string'>, number> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, bool: 1, uint64: 8, int64: 8, float64: 8,
};

/** A typed metadata value: scalars as number/bigint (64-bit integers)/boolean/string, arrays with one item type. */
export type GgufValue =
  | { type: Exclude<GgufScalarType, 'string' | 'bool' | 'uint64' | 'int64'>; value: number }
  | { type: 'uint64' | 'int64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: GgufScalarType; value: (number | bigint | boolean | string)[] };

/** Tensor element types of ggml that bfpo reads (codes from ggml.h). */
export type GgmlType = 'F32' | 'F16' | 'Q8_0' | 'BF16';
const GGML_CODES: Record<GgmlType, number> = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 };
const GGML_NAMES = new Map(Object.entries(GGML_CODES).map(([k, v]) => [v, k as GgmlType]));

/** Bytes of `n` elements of `type` (Q8_0 comes in blocks of 32). */
export function ggmlBytes(type: GgmlType, n: number): number {
  return type === 'Q8_0' ? (n / Q8_0_BLOCK) * Q8_0_BYTES : n * (type === 'F32' ? 4 : 2);
}

/** One tensor of a GGUF file. `shape` is in PyTorch order (the reverse of ggml's ne); `offset` is absolute. */
export interface GgufTensorInfo {
  name: string;
  shape: number[];
  type: GgmlType;
  offset: number;
  byteLength: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Record<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  dataStart: number;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reads the file sequentially through a 1 MiB window, so headers of multi-gigabyte files are parsed without loading them. */
class Cursor {
  pos = 0;
  #buf = Buffer.alloc(0);
  #bufStart = 0;
  constructor(readonly fd: number, readonly size: number, readonly path: string) {}
  take(n: number, what: string): Buffer {
    if (n > this.size - this.pos) throw new FormatError(this.path, `file ends inside ${what} (needs ${n} bytes at offset ${this.pos}, file has ${this.size})`);
    if (this.pos < this.#bufStart || this.pos + n > this.#bufStart + this.#buf.byteLength) {
      const len = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
      this.#buf = Buffer.alloc(len);
      readSync(this.fd, this.#buf, 0, len, this.pos);
      this.#bufStart = this.pos;
    }
    const start = this.pos - this.#bufStart;
    this.pos += n;
    return this.#buf.subarray(start, start + n);
  }
  u32(what: string): number { return this.take(4, what).readUInt32LE(0); }
  u64(what: string): bigint { return this.take(8, what).readBigUInt64LE(0); }
  /** A u64 count that must fit in what remains of the file at `minBytes` each. */
  count(what: string, minBytes: number): number {
    const n = this.u64(what);
    if (n > BigInt(Math.floor((this.size - this.pos) / Math.max(minBytes, 1)))) throw new FormatError(this.path, `${what} ${n} is larger than the file can hold`);
    return Number(n);
  }
  string(what: string): string {
    const n = this.count(`length of ${what}`, 1);
    try {
      return UTF8.decode(this.take(n, what));
    } catch (err) {
      if (err instanceof FormatError) throw err;
      throw new FormatError(this.path, `${what} is not valid UTF-8`);
    }
  }
}

function readScalar(c: Cursor, type: GgufScalarType, what: string): number | bigint | boolean | string {
  if (type === 'string') return c.string(what);
  const b = c.take(SCALAR_SIZE[type], what);
  switch (type) {
    case 'uint8': return b.readUInt8(0);
    case 'int8': return b.readInt8(0);
    case 'uint16': return b.readUInt16LE(0);
    case 'int16': return b.readInt16LE(0);
    case 'uint32': return b.readUInt32LE(0);
    case 'int32': return b.readInt32LE(0);
    case 'float32': return b.readFloatLE(0);
    case 'bool': {
      if (b[0] > 1) throw new FormatError(c.path, `bool value ${b[0]} is neither 0 nor 1`, what);
      return b[0] === 1;
    }
    case 'uint64': return b.readBigUInt64LE(0);
    case 'int64': return b.readBigInt64LE(0);
    case 'float64': return b.readDoubleLE(0);
  }
}

function readValue(c: Cursor, key: string): GgufValue {
  const code = c.u32(`type of ${key}`);
  const type = TYPE_CODES[code];
  if (type === undefined) throw new FormatError(c.path, `unknown metadata value type ${code}`, key);
  if (type !== 'array') return { type, value: readScalar(c, type, key) } as GgufValue;
  const itemCode = c.u32(`item type of ${key}`);
  const itemType = TYPE_CODES[itemCode];
  if (itemType === undefined || itemType === 'array') throw new FormatError(c.path, `unsupported array item type ${itemCode}`, key);
  const n = c.count(`length of array ${key}`, itemType === 'string' ? 8 : SCALAR_SIZE[itemType]);
  const value: (number | bigint | boolean | string)[] = new Array(n);
  for (let i = 0; i < n; i++) value[i] = readScalar(c, itemType, key);
  return { type: 'array', itemType, value };
}

function readTensorInfo(c: Cursor, i: number): Omit<GgufTensorInfo, 'offset' | 'byteLength'> & { rel: bigint } {
  const name = c.string(`name of tensor ${i}`);
  const nDims = c.u32(`dimension count of ${name}`);
  if (nDims < 1 || nDims > 4) throw new FormatError(c.path, `has ${nDims} dimensions (ggml allows 1 to 4)`, name);
  const ne: number[] = [];
  for (let d = 0; d < nDims; d++) {
    const v = c.u64(`dimensions of ${name}`);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(c.path, `dimension ${v} is too large`, name);
    ne.push(Number(v));
  }
  const code = c.u32(`type of ${name}`);
  const type = GGML_NAMES.get(code);
  if (!type) throw new FormatError(c.path, `tensor type ${code} is not supported (bfpo reads F32, F16, BF16 and Q8_0; requantise with llama-quantize)`, name);
  if (type === 'Q8_0' && ne[0] % Q8_0_BLOCK !== 0) throw new FormatError(c.path, `Q8_0 rows of ${ne[0]} values are not a multiple of 32`, name);
  return { name, shape: ne.reverse(), type, rel: c.u64(`offset of ${name}`) };
}

/**
 * Reads a GGUF v2/v3 header: metadata, tensor infos (checked to lie inside the file, aligned, not overlapping).
 *
 * @example
 * const g = readGguf('model.gguf');
 * g.metadata['general.architecture'].value; // 'llama'
 */
export function readGguf(path: string): GgufFile {
  const fd = openSync(path, 'r');
  try {
    const c = new Cursor(fd, fstatSync(fd).size, path);
    const magic = c.take(4, 'the magic number').toString('latin1');
    if (magic !== 'GGUF') throw new FormatError(path, `is not a GGUF file (starts with ${JSON.stringify(magic)}, expected "GGUF")`);
    const version = c.u32('version');
    if (version !== 2 && version !== 3) throw new FormatError(path, `GGUF version ${version} is not supported (bfpo reads versions 2 and 3)`);
    const nTensors = c.count('tensor count', 24);
    const nKv = c.count('metadata count', 12);
    const metadata: Record<string, GgufValue> = {};
    for (let i = 0; i < nKv; i++) {
      const key = c.string(`metadata key ${i}`);
      if (key in metadata) throw new FormatError(path, 'metadata key appears twice', key);
      metadata[key] = readValue(c, key);
    }
    const al = metadata['general.alignment'];
    const alignment = al === undefined ? 32 : al.type === 'uint32' ? al.value : -1;
    if (!(alignment > 0 && (alignment & (alignment - 1)) === 0)) throw new FormatError(path, 'must be a uint32 power of two', 'general.alignment');
    const raw = Array.from({ length: nTensors }, (_, i) => readTensorInfo(c, i));
    const dataStart = Math.ceil(c.pos / alignment) * alignment;
    const tensors = raw.map(({ rel, ...t }) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const byteLength = ggmlBytes(t.type, n);
      if (rel % BigInt(alignment) !== 0n) throw new FormatError(path, `data offset ${rel} is not a multiple of the alignment ${alignment}`, t.name);
      if (!Number.isSafeInteger(byteLength) || rel + BigInt(byteLength) > BigInt(c.size - dataStart)) {
        throw new FormatError(path, `data (${byteLength} bytes at offset ${rel}) lies outside the file`, t.name);
      }
      return { ...t, offset: dataStart + Number(rel), byteLength };
    });
    const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].byteLength) throw new FormatError(path, `data overlaps tensor ${JSON.stringify(sorted[i - 1].name)}`, sorted[i].name);
    }
    const names = new Set<string>();
    for (const t of tensors) {
      if (names.has(t.name)) throw new FormatError(path, 'tensor name appears twice', t.name);
      names.add(t.name);
    }
    return { path, version, metadata, tensors, alignment, dataStart };
  } finally {
    closeSync(fd);
  }
}

function tensorInfo(file: GgufFile, name: string): GgufFile['tensors'][number] {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) throw new FormatError(file.path, 'no such tensor in this file', name);
  return t;
}

/** Raw bytes of one tensor as stored, read from `fd` (the file open for reading); see byte-reads.ts. */
export function* ggufTensorBytesReader(file: GgufFile, name: string, fd: number): ByteReader<Buffer> {
  const t = tensorInfo(file, name);
  const buf = yield { fd, position: t.offset, length: t.byteLength };
  if (buf.byteLength !== t.byteLength) throw new FormatError(file.path, 'file ended while reading tensor data', name);
  return buf;
}

/** Raw bytes of one tensor as stored. */
export function readGgufTensorBytes(file: GgufFile, name: string): Buffer {
  tensorInfo(file, name);
  const fd = openSync(file.path, 'r');
  try {
    return runReader(ggufTensorBytesReader(file, name, fd));
  } finally {
    closeSync(fd);
  }
}

/** A tensor's stored bytes as float bytes: F32/F16/BF16 as stored, Q8_0 dequantised to float32. */
export function decodeGgufTensor(file: GgufFile, name: string, bytes: Buffer): { dtype: 'float32' | 'float16' | 'bfloat16'; shape: number[]; bytes: Buffer } {
  const t = tensorInfo(file, name);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.type === 'Q8_0') return { dtype: 'float32', shape: t.shape, bytes: dequantizeQ8_0(bytes, n) };
  return { dtype: t.type === 'F32' ? 'float32' : t.type === 'F16' ? 'float16' : 'bfloat16', shape: t.shape, bytes };
}

/** A tensor's values as float bytes: F32/F16/BF16 as stored, Q8_0 dequantised to float32. */
export function readGgufTensor(file: GgufFile, name: string): { dtype: 'float32' | 'float16' | 'bfloat16'; shape: number[]; bytes: Buffer } {
  tensorInfo(file, name);
  return decodeGgufTensor(file, name, readGgufTensorBytes(file, name));
}

/** A scalar metadata value, checked to be of one of `types`; undefined when the key is absent. */
export function ggufScalar<T extends number | bigint | boolean | string>(file: { path: string; metadata: Record<string, GgufValue> }, key: string, kind: 'number' | 'string' | 'boolean'): T | undefined {
  const v = file.metadata[key];
  if (v === undefined) return undefined;
  const value = typeof v.value === 'bigint' && kind === 'number' ? Number(v.value) : v.value;
  if (typeof value !== kind) throw new FormatError(file.path, `must be a ${kind}, found ${v.type}`, key);
  return value as T;
}

/** A tensor to write: its ggml type, PyTorch-order shape and raw bytes already in that type. */
export interface GgufTensorData {
  type: GgmlType;
  shape: number[];
  data: Uint8Array | (() => Uint8Array);
}

function encodeString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.byteLength));
  return Buffer.concat([len, b]);
}

function encodeScalar(type: GgufScalarType, v: unknown, key: string): Buffer {
  if (type === 'string') {
    if (typeof v !== 'string') throw expected('a string', `GGUF metadata ${key}`, v);
    return encodeString(v);
  }
  const b = Buffer.alloc(SCALAR_SIZE[type]);
  const isInt = type !== 'float32' && type !== 'float64' && type !== 'bool';
  if (type === 'uint64' || type === 'int64') {
    if (typeof v !== 'bigint' && !Number.isSafeInteger(v)) throw expected('an integer', `GGUF metadata ${key}`, v);
    if (type === 'uint64') b.writeBigUInt64LE(BigInt(v as number)); else b.writeBigInt64LE(BigInt(v as number));
    return b;
  }
  if (type === 'bool') {
    if (typeof v !== 'boolean') throw expected('a boolean', `GGUF metadata ${key}`, v);
    b[0] = v ? 1 : 0;
    return b;
  }
  if (typeof v !== 'number' || (isInt && !Number.isInteger(v))) throw expected(isInt ? 'an integer' : 'a number', `GGUF metadata ${key}`, v);
  const w = { uint8: b.writeUInt8, int8: b.writeInt8, uint16: b.writeUInt16LE, int16: b.writeInt16LE, uint32: b.writeUInt32LE, int32: b.writeInt32LE, float32: b.writeFloatLE, float64: b.writeDoubleLE }[type];
  try {
    w.call(b, v, 0);
  } catch {
    throw expected(`a value in the range of ${type}`, `GGUF metadata ${key}`, v);
  }
  return b;
}

/** Array items in one buffer: strings and scalars are laid out directly rather than one small buffer each. */
function encodeArray(type: GgufScalarType, values: unknown[], key: string): Buffer {
  if (type === 'string') {
    if (!values.every((x) => typeof x === 'string')) throw expected('an array of strings', `GGUF metadata ${key}`, values);
    const bytes = (values as string[]).map((x) => Buffer.from(x, 'utf8'));
    const out = Buffer.alloc(bytes.reduce((a, b) => a + 8 + b.byteLength, 0));
    let off = 0;
    for (const b of bytes) {
      out.writeBigUInt64LE(BigInt(b.byteLength), off);
      b.copy(out, off + 8);
      off += 8 + b.byteLength;
    }
    return out;
  }
  if (type === 'float32' || type === 'int32') {
    const ok = values.every((x) => typeof x === 'number' && (type === 'float32' || (Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31)));
    if (!ok) throw expected(`an array of ${type} values`, `GGUF metadata ${key}`, values);
    const arr = type === 'float32' ? Float32Array.from(values as number[]) : Int32Array.from(values as number[]);
    return Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
  }
  return Buffer.concat(values.map((x) => encodeScalar(type, x, key)));
}

function encodeKv(key: string, v: GgufValue): Buffer[] {
  if (v === null || typeof v !== 'object') throw expected('a { type, value } object', `GGUF metadata ${key}`, v);
  if (TYPE_CODES.indexOf(v.type) < 0) throw expected(`a GGUF value type (${TYPE_CODES.join(', ')})`, `type of GGUF metadata ${key}`, v.type);
  const code = Buffer.alloc(4);
  code.writeUInt32LE(TYPE_CODES.indexOf(v.type));
  if (v.type !== 'array') return [encodeString(key), code, encodeScalar(v.type, v.value, key)];
  if (!Array.isArray(v.value) || !TYPE_CODES.includes(v.itemType) || v.itemType === ('array' as string)) throw expected('an array value with a scalar itemType', `GGUF metadata ${key}`, v);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(TYPE_CODES.indexOf(v.itemType), 0);
  head.writeBigUInt64LE(BigInt(v.value.length), 4);
  return [encodeString(key), code, head, encodeArray(v.itemType, v.value, key)];
}

/**
 * Writes a GGUF v3 file atomically: metadata in the given order, tensors in the given order, each aligned to
 * `general.alignment` (default 32, added to the metadata when absent).
 *
 * @example
 * writeGguf('out.gguf', { metadata: { 'general.architecture': { type: 'string', value: 'llama' } },
 *   tensors: { 'token_embd.weight': { type: 'F32', shape: [10, 8], data: bytes } } });
 */
export function writeGguf(path: string, spec: { metadata: Record<string, GgufValue>; tensors: Record<string, GgufTensorData> }): void {
  const metadata = { ...spec.metadata };
  if (metadata['general.alignment'] === undefined) metadata['general.alignment'] = { type: 'uint32', value: 32 };
  const al = metadata['general.alignment'];
  const alignment = al.type === 'uint32' ? al.value : 0;
  if (!(alignment > 0 && (alignment & (alignment - 1)) === 0)) throw expected('a uint32 power of two', 'general.alignment', al);
  const entries = Object.entries(spec.tensors);
  const parts: Buffer[] = [Buffer.from('GGUF', 'latin1')];
  const counts = Buffer.alloc(20);
  counts.writeUInt32LE(3, 0);
  counts.writeBigUInt64LE(BigInt(entries.length), 4);
  counts.writeBigUInt64LE(BigInt(Object.keys(metadata).length), 12);
  parts.push(counts);
  for (const [k, v] of Object.entries(metadata)) for (const b of encodeKv(k, v)) parts.push(b);
  const pad = (n: number): number => Math.ceil(n / alignment) * alignment;
  let rel = 0;
  const sizes: number[] = [];
  for (const [name, t] of entries) {
    if (!(t.type in GGML_CODES)) throw expected(`one of ${Object.keys(GGML_CODES).join(', ')}`, `type of tensor ${name}`, t.type);
    if (!Array.isArray(t.shape) || t.shape.length < 1 || t.shape.length > 4 || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw expected('1 to 4 non-negative integer dimensions', `shape of tensor ${name}`, t.shape);
    }
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.type === 'Q8_0' && t.shape[t.shape.length - 1] % Q8_0_BLOCK !== 0) throw expected('rows of a multiple of 32 values for Q8_0', `shape of tensor ${name}`, t.shape);
    const info = Buffer.alloc(4);
    info.writeUInt32LE(t.shape.length);
    const dims = Buffer.alloc(8 * t.shape.length);
    [...t.shape].reverse().forEach((d, i) => dims.writeBigUInt64LE(BigInt(d), 8 * i));
    const tail = Buffer.alloc(12);
    tail.writeUInt32LE(GGML_CODES[t.type], 0);
    tail.writeBigUInt64LE(BigInt(rel), 4);
    parts.push(encodeString(name), info, dims, tail);
    sizes.push(ggmlBytes(t.type, n));
    rel = pad(rel + ggmlBytes(t.type, n));
  }
  const header = Buffer.concat(parts);
  writeAtomic(path, (out) => {
    out.write(header);
    out.write(Buffer.alloc(pad(header.byteLength) - header.byteLength));
    entries.forEach(([name, t], i) => {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      if (data.byteLength !== sizes[i]) throw expected(`${sizes[i]} bytes`, `data of tensor ${name}`, `${data.byteLength} bytes`);
      out.write(data);
      out.write(Buffer.alloc(pad(data.byteLength) - data.byteLength));
    });
  });
}

/** float16 bytes -> float32 bytes (used when a caller needs float32 without going through libtorch). */
export function halfBytesToFloat(src: Uint8Array): Buffer {
  const n = src.byteLength / 2;
  const out = Buffer.allocUnsafe(n * 4);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < n; i++) out.writeFloatLE(halfToFloat(view.getUint16(2 * i, true)), 4 * i);
  return out;
}
