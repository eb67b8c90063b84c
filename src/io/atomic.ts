// Atomic file writes: everything goes to a temporary file beside the target, which is then renamed over it.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
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
