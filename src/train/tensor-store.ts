// Named tensors on disk as one raw little-endian file plus a JSON index (trainer state: optimizer moments, fp32
// master weights). Written to temporary names, then renamed.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { type PendingFile, writeFiles } from '../io/atomic.js';
import { BfpoError } from '../errors.js';
import { fromBuffer } from '../tensor/creation.js';
import { keep } from '../tensor/scope.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

interface Entry { dtype: DType; shape: number[]; offset: number; bytes: number }

/** Writes `tensors` to `<base>.bin` and `<base>.json`, synced to disk. */
export function writeTensors(base: string, tensors: Map<string, Tensor>): void {
  writeFiles(tensorFiles(base, tensors));
}

/** The two files of `writeTensors`, still to be written (see io/atomic.ts); the index is made as the bytes are written. */
export function tensorFiles(base: string, tensors: Map<string, Tensor>): PendingFile[] {
  const index: Record<string, Entry> = {};
  return [
    {
      path: `${base}.bin`,
      *chunks() {
        let offset = 0;
        for (const [name, t] of tensors) {
          const bytes = t.device === 'cpu' ? t.toBuffer() : (() => { const c = t.to('cpu'); try { return c.toBuffer(); } finally { c.dispose(); } })();
          index[name] = { dtype: t.dtype, shape: t.shape, offset, bytes: bytes.length };
          offset += bytes.length;
          yield bytes;
        }
      },
    },
    { path: `${base}.json`, chunks: () => [Buffer.from(JSON.stringify(index), 'utf8')] },
  ];
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

/**
 * Reads only the tensors of `base` whose names `want` accepts: the index, then each wanted tensor's bytes from
 * its place in `<base>.bin` (the rest of the file is not read). Kept out of scopes; the caller disposes them.
 */
export function readSomeTensors(base: string, want: (name: string) => boolean): Map<string, Tensor> {
  let index: Record<string, Entry>;
  let fd: number;
  try {
    index = JSON.parse(readFileSync(`${base}.json`, 'utf8'));
    fd = openSync(`${base}.bin`, 'r');
  } catch (e) {
    throw new BfpoError(`Cannot read the tensors ${base}.json / ${base}.bin: ${(e as Error).message}`);
  }
  const out = new Map<string, Tensor>();
  try {
    const size = fstatSync(fd).size;
    for (const [name, e] of Object.entries(index)) {
      if (!want(name)) continue;
      if (e.offset + e.bytes > size) throw new BfpoError(`${base}.bin is truncated: ${name} ends past the file`);
      const data = Buffer.allocUnsafe(e.bytes);
      for (let got = 0; got < e.bytes;) {
        const n = readSync(fd, data, got, e.bytes - got, e.offset + got);
        if (n === 0) throw new BfpoError(`${base}.bin is truncated: ${name} ends past the file`);
        got += n;
      }
      out.set(name, keep(fromBuffer(data, { dtype: e.dtype, shape: e.shape })));
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  } finally {
    closeSync(fd);
  }
  return out;
}
