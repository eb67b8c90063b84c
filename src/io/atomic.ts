// Atomic file writes: everything goes to a temporary file beside the target, which is then renamed over it;
// synchronously, or through node:fs/promises for large files written while the event loop keeps running.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A sink that writes whole chunks in order. */
export interface ChunkWriter {
  write(chunk: Uint8Array): void;
  readonly bytesWritten: number;
}

/**
 * Calls `fill` with a writer on a temporary file, then renames the file to `path`. On any error the temporary
 * file is removed and the target is left as it was.
 */
export function writeAtomic(path: string, fill: (out: ChunkWriter) => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  let bytesWritten = 0;
  try {
    fill({
      write(chunk: Uint8Array): void {
        let off = 0;
        while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
        bytesWritten += chunk.byteLength;
      },
      get bytesWritten() { return bytesWritten; },
    });
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes `data` to `path` through a temporary file and a rename: readers see the old file or the new one, never a
 * part. Strings are written as UTF-8.
 * @example writeFileAtomic('out/results.json', JSON.stringify(results));
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  writeAtomic(path, (out) => out.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
}

/**
 * A file still to be written: its path and its content as chunks made one at a time when written (so a large
 * tensor's bytes exist only while its chunk is written). Written in list order by `writeFiles`/`writeFilesAsync`.
 */
export interface PendingFile {
  path: string;
  chunks(): Iterable<Uint8Array>;
}

/** A pending file whose whole content is `data` (strings as UTF-8). */
export function pendingFile(path: string, data: string | Uint8Array): PendingFile {
  return { path, chunks: () => [typeof data === 'string' ? Buffer.from(data, 'utf8') : data] };
}

/** Writes each pending file atomically, in order. */
export function writeFiles(files: Iterable<PendingFile>): void {
  for (const f of files) {
    writeAtomic(f.path, (out) => {
      for (const chunk of f.chunks()) out.write(chunk);
    });
  }
}

/**
 * `writeFiles` through node:fs/promises: every write, the sync to disk and the rename run on Node's thread pool,
 * so timers and I/O keep running while large files are written. Same files, same bytes, same atomicity.
 *
 * @example await writeFilesAsync([pendingFile('out/config.json', json)]);
 */
export async function writeFilesAsync(files: Iterable<PendingFile>): Promise<void> {
  for (const f of files) await writeAtomicAsync(f.path, f.chunks());
}

/** `writeAtomic` of `chunks` with node:fs/promises: a temporary file beside `path`, synced, then renamed over it. */
export async function writeAtomicAsync(path: string, chunks: Iterable<Uint8Array>): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w');
  let closed = false;
  try {
    for (const chunk of chunks) {
      let off = 0;
      while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
    }
    await fh.sync();
    closed = true;
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    if (!closed) await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}
