// File readers written once as generators that yield the byte ranges they need: `runReader` runs one with blocking
// reads, `runReaderAsync` with reads on Node's thread pool, so the parsing and checking code exists once for both.
import { read, readSync } from 'node:fs';

/** `length` bytes at `position` of the open file descriptor `fd`. */
export interface ByteRange {
  fd: number;
  position: number;
  length: number;
  /**
   * The reader is done with these bytes by its next yield (it copies them out): the runner may hand back a view of
   * one buffer it reuses for every such read, so loading a model's tensors allocates (and faults in) one buffer of
   * the largest tensor's size instead of one per tensor.
   */
  scratch?: boolean;
}

/**
 * A reader: yields the ranges it needs, receives each range's bytes (shorter than asked when the file ends first)
 * and returns what it built. A failed read is thrown into it at the `yield`, so its `finally` blocks run.
 */
export type ByteReader<T> = Generator<ByteRange, T, Buffer>;

/** Reads up to `length` bytes at `position` (fewer only at the end of the file); chunks of 1 GiB, so any size works. */
export function readRange({ fd, position, length }: ByteRange, into?: Scratch): Buffer {
  const buf = into ? into.take(length) : Buffer.allocUnsafe(length);
  let off = 0;
  while (off < length) {
    const n = readSync(fd, buf, off, Math.min(length - off, 0x40000000), position + off);
    if (n === 0) break;
    off += n;
  }
  return off === length ? buf : buf.subarray(0, off);
}

/** `readRange` on libuv's thread pool: the event loop runs while the bytes come in. */
export async function readRangeAsync({ fd, position, length }: ByteRange, into?: Scratch): Promise<Buffer> {
  const buf = into ? into.take(length) : Buffer.allocUnsafe(length);
  let off = 0;
  while (off < length) {
    const n = await new Promise<number>((resolve, reject) =>
      read(fd, buf, off, Math.min(length - off, 0x40000000), position + off, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))));
    if (n === 0) break;
    off += n;
  }
  return off === length ? buf : buf.subarray(0, off);
}

/** The reused buffer of one run's scratch reads, grown to the largest asked for. */
class Scratch {
  #buf = Buffer.alloc(0);
  take(length: number): Buffer {
    if (this.#buf.byteLength < length) this.#buf = Buffer.allocUnsafe(length);
    return this.#buf.subarray(0, length);
  }
}

/**
 * Runs `reader` to its end with blocking reads.
 *
 * @example const header = runReader(headerReader(path, fd));
 */
export function runReader<T>(reader: ByteReader<T>): T {
  const scratch = new Scratch();
  let r = reader.next();
  while (!r.done) {
    let bytes: Buffer;
    try {
      bytes = readRange(r.value, r.value.scratch ? scratch : undefined);
    } catch (err) {
      r = reader.throw(err);
      continue;
    }
    r = reader.next(bytes);
  }
  return r.value;
}

/**
 * Runs `reader` with every read on Node's thread pool; timers and I/O run between reads.
 *
 * @example const weights = await runReaderAsync(tensorsReader([{ path: 'model.safetensors' }]));
 */
export async function runReaderAsync<T>(reader: ByteReader<T>): Promise<T> {
  const scratch = new Scratch();
  let r = reader.next();
  while (!r.done) {
    let bytes: Buffer;
    try {
      bytes = await readRangeAsync(r.value, r.value.scratch ? scratch : undefined);
    } catch (err) {
      r = reader.throw(err);
      continue;
    }
    r = reader.next(bytes);
  }
  return r.value;
}
