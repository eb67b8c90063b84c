// Named tensors on disk as one raw little-endian file plus a JSON index (trainer state: optimizer moments, fp32
// master weights). Written to temporary names, then renamed.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { BfpoError } from '../tensor/errors.js';
import { fromBuffer } from '../tensor/creation.js';
import { keep } from '../tensor/scope.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

interface Entry { dtype: DType; shape: number[]; offset: number; bytes: number }

/** Writes `tensors` to `<base>.bin` and `<base>.json`, synced to disk. */
export function writeTensors(base: string, tensors: Map<string, Tensor>): void {
  const index: Record<string, Entry> = {};
  const fd = openSync(`${base}.bin.tmp`, 'w');
  let offset = 0;
  try {
    for (const [name, t] of tensors) {
      const bytes = t.device === 'cpu' ? t.toBuffer() : (() => { const c = t.to('cpu'); try { return c.toBuffer(); } finally { c.dispose(); } })();
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off); // a short write is not an error
      index[name] = { dtype: t.dtype, shape: t.shape, offset, bytes: bytes.length };
      offset += bytes.length;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(`${base}.bin.tmp`, `${base}.bin`);
  writeFileSync(`${base}.json.tmp`, JSON.stringify(index));
  renameSync(`${base}.json.tmp`, `${base}.json`);
}

/** Reads tensors written by `writeTensors` (kept out of scopes; the caller disposes them). */
export function readTensors(base: string): Map<string, Tensor> {
  let index: Record<string, Entry>;
  let data: Buffer;
  try {
    index = JSON.parse(readFileSync(`${base}.json`, 'utf8'));
    data = readFileSync(`${base}.bin`);
  } catch (e) {
    throw new BfpoError(`Cannot read the tensors ${base}.json / ${base}.bin: ${(e as Error).message}`);
  }
  const out = new Map<string, Tensor>();
  for (const [name, e] of Object.entries(index)) {
    if (e.offset + e.bytes > data.length) throw new BfpoError(`${base}.bin is truncated: ${name} ends past the file`);
    out.set(name, keep(fromBuffer(data, { dtype: e.dtype, shape: e.shape, byteOffset: e.offset })));
  }
  return out;
}
