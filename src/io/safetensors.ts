// safetensors: a u64 little-endian header length, a JSON header (dtype, shape, byte range per tensor), then the bytes.
// The reader checks every field before touching tensor data; the writer is atomic and pads the header to 8 bytes.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { type DType, type Device, dtypeSize, isFloatingDtype } from '../tensor/dtype.js';
import { fromBuffer } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { expected } from '../errors.js';
import { FormatError } from './errors.js';
import { type PendingFile, writeFiles, writeFilesAsync } from './atomic.js';
import { type ByteReader, runReader, runReaderAsync } from './byte-reads.js';

/** Element types of the safetensors format that bfpo reads and writes. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const TO_DTYPE: Record<SafetensorsDtype, DType> = {
  F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64', I64: 'int64',
  I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const FROM_DTYPE = Object.fromEntries(Object.entries(TO_DTYPE).map(([k, v]) => [v, k])) as Record<DType, SafetensorsDtype>;

/** bfpo dtype of a safetensors dtype name, and back. */
export const safetensorsToDtype = (d: SafetensorsDtype): DType => TO_DTYPE[d];
export const dtypeToSafetensors = (d: DType): SafetensorsDtype => FROM_DTYPE[d];

/** One tensor's entry in the header; `begin`/`end` are byte offsets inside the data area (after the header). */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** A validated header: where the data area starts in the file, the metadata and the tensors in file order. */
export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  dataStart: number;
  metadata: Record<string, string>;
  tensors: SafetensorsEntry[];
}

/** The Rust reference implementation refuses headers over 100 MB; so do we, so a corrupt length cannot exhaust memory. */
const MAX_HEADER = 100_000_000;

function parseEntry(path: string, name: string, raw: unknown, dataSize: number): SafetensorsEntry {
  const fail = (detail: string): FormatError => new FormatError(path, detail, name);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fail('entry is not an object');
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in TO_DTYPE)) {
    throw fail(`unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(TO_DTYPE).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw fail(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw fail(`data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSize) throw fail(`data_offsets [${begin}, ${end}] lie outside the data area of ${dataSize} bytes`);
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const bytes = numel * dtypeSize(TO_DTYPE[dtype as SafetensorsDtype]);
  if (!Number.isSafeInteger(bytes) || bytes !== end - begin) {
    throw fail(`shape [${shape.join(', ')}] of ${dtype} needs ${bytes} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end };
}

/** Checks that the byte ranges tile the data area exactly: sorted, no overlap, no gap, nothing left over. */
function checkCoverage(path: string, tensors: SafetensorsEntry[], dataSize: number): void {
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of sorted) {
    if (t.begin < pos) throw new FormatError(path, `data_offsets [${t.begin}, ${t.end}] overlap another tensor`, t.name);
    if (t.begin > pos) throw new FormatError(path, `bytes ${pos}..${t.begin} of the data area belong to no tensor (gap before this tensor)`, t.name);
    pos = t.end;
  }
  if (pos !== dataSize) throw new FormatError(path, `the data area has ${dataSize} bytes but the tensors cover only ${pos} (trailing bytes or truncated header)`);
}

/** Reads and validates the header of the file open as `fd` (its size read up front, then the length and the JSON). */
function* headerReader(path: string, fd: number): ByteReader<SafetensorsHeader> {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) throw new FormatError(path, `file has ${fileSize} bytes, too short for a safetensors header (at least 8)`);
  const n = (yield { fd, position: 0, length: 8 }).readBigUInt64LE(0);
  if (n > BigInt(fileSize - 8)) throw new FormatError(path, `header length ${n} exceeds the ${fileSize - 8} bytes after the length field (truncated or not safetensors)`);
  if (n > BigInt(MAX_HEADER)) throw new FormatError(path, `header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  const headerLength = Number(n);
  const bytes = yield { fd, position: 8, length: headerLength };
  let json: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (!text.startsWith('{')) throw new Error('the header does not start with "{"');
    json = JSON.parse(text);
  } catch (err) {
    throw new FormatError(path, `header is not UTF-8 JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new FormatError(path, 'header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsEntry[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (key === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new FormatError(path, 'must be an object of strings', key);
      for (const [mk, mv] of Object.entries(value)) {
        if (typeof mv !== 'string') throw new FormatError(path, `metadata value of ${JSON.stringify(mk)} must be a string, got ${typeof mv}`, key);
        metadata[mk] = mv;
      }
    } else {
      tensors.push(parseEntry(path, key, value, dataSize));
    }
  }
  checkCoverage(path, tensors, dataSize);
  return { path, fileSize, dataStart, metadata, tensors };
}

/**
 * Reads and validates the header of a safetensors file without reading tensor data.
 *
 * @example
 * const h = readSafetensorsHeader('model.safetensors');
 * for (const t of h.tensors) console.log(t.name, t.dtype, t.shape);
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    return runReader(headerReader(path, fd));
  } finally {
    closeSync(fd);
  }
}

/** An open safetensors file: a validated header plus reads of single tensors' bytes by name. Call `close()` when done. */
export class SafetensorsFile {
  readonly header: SafetensorsHeader;
  readonly #fd: number;
  #closed = false;
  private constructor(fd: number, header: SafetensorsHeader) {
    this.#fd = fd;
    this.header = header;
  }
  /** Opens and validates `path`. */
  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      return new SafetensorsFile(fd, runReader(headerReader(path, fd)));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }
  entry(name: string): SafetensorsEntry {
    const e = this.header.tensors.find((t) => t.name === name);
    if (!e) throw new FormatError(this.header.path, 'no such tensor in this file', name);
    return e;
  }
  /** The raw little-endian bytes of one tensor (read from disk with one positioned read, so files over 2 GB work). */
  bytes(name: string): Buffer {
    return runReader(this.#bytesReader(name));
  }
  /** `bytes`, read without blocking the event loop. */
  bytesAsync(name: string): Promise<Buffer> {
    return runReaderAsync(this.#bytesReader(name));
  }
  *#bytesReader(name: string): ByteReader<Buffer> {
    if (this.#closed) throw new FormatError(this.header.path, 'file is closed', name);
    return yield* entryBytes(this.header, this.#fd, this.entry(name));
  }
  close(): void {
    if (!this.#closed) closeSync(this.#fd);
    this.#closed = true;
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

/** A check of one stored tensor (file, name, dtype, shape) before its bytes are read; it throws to refuse it. */
export type TensorCheck = (file: string, name: string, dtype: DType, shape: readonly number[]) => void;

/** Options for loading tensors: floating tensors are converted to `dtype`; all tensors are moved to `device`. */
export interface LoadOptions {
  dtype?: DType;
  device?: Device;
  /**
   * Called with each tensor's file, name, stored dtype and shape after the file's header is read and before any of
   * its tensor bytes are; throw to refuse the file (e.g. a shape that disagrees with the model's config).
   */
  check?: TensorCheck;
}

/** Makes a Tensor from raw bytes, converting floating dtypes to `opts.dtype` and moving it to `opts.device`. */
export function tensorFromBytes(bytes: Uint8Array, dtype: DType, shape: number[], opts: LoadOptions = {}): Tensor {
  const as = opts.dtype && isFloatingDtype(dtype) && opts.dtype !== dtype ? opts.dtype : undefined;
  let t = fromBuffer(bytes, { dtype, shape, as });
  if (opts.device && opts.device !== 'cpu') {
    const moved = t.to(opts.device);
    t.dispose();
    t = moved;
  }
  return t;
}

/** The bytes of tensor `e` of the file open as `fd`, checked to be complete. */
function* entryBytes(header: SafetensorsHeader, fd: number, e: SafetensorsEntry, scratch = false): ByteReader<Buffer> {
  const buf = yield { fd, position: header.dataStart + e.begin, length: e.end - e.begin, scratch };
  if (buf.byteLength !== e.end - e.begin) throw new FormatError(header.path, 'file ended while reading tensor bytes', e.name);
  return buf;
}

/** One safetensors file to read: all its tensors, or only `names`, each of which must be in it (else `missing`). */
export interface TensorFileRead {
  path: string;
  names?: string[];
  missing?: (name: string) => Error;
}

/**
 * The one loop behind every safetensors loader, single file or shards, synchronous or not: opens each file in
 * turn, validates its header, and makes a Tensor of each tensor's bytes (converted as `opts` says). On any error
 * the tensors made so far are freed and the open file closed.
 */
export function* tensorsReader(files: TensorFileRead[], opts: LoadOptions = {}): ByteReader<Map<string, Tensor>> {
  if (opts.dtype !== undefined && !isFloatingDtype(opts.dtype)) throw expected('a floating dtype', 'loadSafetensors dtype', opts.dtype);
  const out = new Map<string, Tensor>();
  try {
    for (const f of files) {
      const fd = openSync(f.path, 'r');
      try {
        const header = yield* headerReader(f.path, fd);
        const entries = f.names === undefined ? header.tensors : f.names.map((name) => {
          const e = header.tensors.find((t) => t.name === name);
          if (!e) throw f.missing?.(name) ?? new FormatError(f.path, 'no such tensor in this file', name);
          return e;
        });
        if (opts.check) for (const e of entries) opts.check(f.path, e.name, TO_DTYPE[e.dtype], e.shape);
        // Each tensor's bytes are copied out before the next read: they may land in one reused buffer.
        for (const e of entries) out.set(e.name, tensorFromBytes(yield* entryBytes(header, fd, e, true), TO_DTYPE[e.dtype], e.shape, opts));
      } finally {
        closeSync(fd);
      }
    }
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

/**
 * Loads every tensor of a safetensors file (validated first) into a Map from name to Tensor.
 *
 * @example
 * const weights = loadSafetensors('model.safetensors', { dtype: 'float32' });
 * weights.get('model.embed_tokens.weight'); // Tensor(float32[32000, 4096])
 */
export function loadSafetensors(path: string, opts: LoadOptions = {}): Map<string, Tensor> {
  return runReader(tensorsReader([{ path }], opts));
}

/**
 * `loadSafetensors` with the header and tensor bytes read off the event loop (Node's thread pool), one tensor at a
 * time.
 *
 * @example
 * const weights = await loadSafetensorsAsync('model.safetensors', { dtype: 'bfloat16' });
 */
export function loadSafetensorsAsync(path: string, opts: LoadOptions = {}): Promise<Map<string, Tensor>> {
  return runReaderAsync(tensorsReader([{ path }], opts));
}

/** A tensor to write as raw bytes; `data` may be a function so that large tensors are materialised one at a time. */
export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array | (() => Uint8Array);
}

/** The exact header bytes (padded with spaces to a multiple of 8) and the tensor order for `entries`. */
export function encodeSafetensorsHeader(entries: [string, { dtype: SafetensorsDtype; shape: number[] }][], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, { dtype, shape }] of entries) {
    const bytes = shape.reduce((a, b) => a * b, 1) * dtypeSize(TO_DTYPE[dtype]);
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return out;
}

/** Writes raw tensors (sorted by name) to `path` atomically. The tensor-agnostic core of `saveSafetensors`. */
export function writeSafetensors(path: string, tensors: Record<string, RawTensor>, metadata?: Record<string, string>): void {
  writeFiles([safetensorsFile(path, tensors, metadata)]);
}

/**
 * A safetensors file still to be written (see atomic.ts): names, dtypes and metadata are checked now; each
 * tensor's bytes are taken and checked against its shape when its chunk is written.
 */
export function safetensorsFile(path: string, tensors: Record<string, RawTensor>, metadata?: Record<string, string>): PendingFile {
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw expected('a string', `safetensors metadata ${JSON.stringify(k)}`, v);
  }
  const entries = Object.entries(tensors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw expected('a tensor name other than __metadata__', 'tensor name', name);
    if (!(t.dtype in TO_DTYPE)) throw expected(`one of ${Object.keys(TO_DTYPE).join(', ')}`, `dtype of ${JSON.stringify(name)}`, t.dtype);
  }
  const header = encodeSafetensorsHeader(entries, metadata);
  return {
    path,
    *chunks() {
      yield header;
      for (const [name, t] of entries) {
        const data = typeof t.data === 'function' ? t.data() : t.data;
        const want = t.shape.reduce((a, b) => a * b, 1) * dtypeSize(TO_DTYPE[t.dtype]);
        if (data.byteLength !== want) throw expected(`${want} bytes`, `data of tensor ${JSON.stringify(name)}`, `${data.byteLength} bytes`);
        yield data;
      }
    },
  };
}

/** A tensor as a RawTensor whose bytes are taken only when written. */
export function rawFromTensor(t: Tensor): RawTensor {
  return { dtype: FROM_DTYPE[t.dtype], shape: t.shape, data: () => t.toBuffer() };
}

/**
 * Saves tensors to a safetensors file atomically (temporary file, then rename). Keys are sorted; the header is
 * padded with spaces to a multiple of 8 bytes so tensor data stays aligned.
 *
 * @example
 * saveSafetensors('out.safetensors', { 'lm_head.weight': w }, { format: 'pt' });
 */
export function saveSafetensors(path: string, tensors: Record<string, Tensor> | Map<string, Tensor>, metadata?: Record<string, string>): void {
  writeFiles([tensorsFile(path, tensors, metadata)]);
}

/** `saveSafetensors` written through node:fs/promises: the event loop runs while the bytes go to disk. */
export function saveSafetensorsAsync(path: string, tensors: Record<string, Tensor> | Map<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  return writeFilesAsync([tensorsFile(path, tensors, metadata)]);
}

/** Tensors as a pending safetensors file (sorted keys, aligned header). */
export function tensorsFile(path: string, tensors: Record<string, Tensor> | Map<string, Tensor>, metadata?: Record<string, string>): PendingFile {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  return safetensorsFile(path, Object.fromEntries(entries.map(([k, t]) => [k, rawFromTensor(t)])), metadata);
}
