// Fault injection for tests: a tiny "disk" under one folder. Every byte written to a file below `root` (by the
// fs calls bfpo's writers use) counts against a budget; past it, writes fail with ENOSPC as a full disk does.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { resolve, sep } from 'node:path';

const original = { openSync: fs.openSync, writeSync: fs.writeSync, writeFileSync: fs.writeFileSync, closeSync: fs.closeSync };

function enospc(path: string): NodeJS.ErrnoException {
  const err = new Error(`ENOSPC: no space left on device, write '${path}'`) as NodeJS.ErrnoException;
  err.code = 'ENOSPC';
  err.errno = -28;
  err.syscall = 'write';
  return err;
}

/**
 * Limits writes below `root` to `budget` bytes until the returned function is called. A write that does not fit
 * writes what fits and then fails, as a real full disk does.
 */
export function limitDisk(root: string, budget: number): { restore(): void; used(): number } {
  const base = resolve(root) + sep;
  const paths = new Map<number, string>();
  let used = 0;
  const inside = (p: unknown): p is string => typeof p === 'string' && resolve(p).startsWith(base);
  const charge = (path: string, n: number): number => {
    const fits = Math.max(0, Math.min(n, budget - used));
    used += fits;
    if (fits < n && fits === 0) throw enospc(path);
    return fits;
  };
  const patched = {
    openSync(path: fs.PathLike, ...rest: unknown[]): number {
      const fd = (original.openSync as (...a: unknown[]) => number)(path, ...rest);
      if (inside(path)) paths.set(fd, path);
      return fd;
    },
    closeSync(fd: number): void {
      paths.delete(fd);
      original.closeSync(fd);
    },
    writeSync(fd: number, data: ArrayBufferView | string, ...rest: unknown[]): number {
      const path = paths.get(fd);
      if (path === undefined) return (original.writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
      const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const off = typeof rest[0] === 'number' ? rest[0] : 0;
      const len = typeof rest[1] === 'number' ? rest[1] : buf.length - off;
      const fits = charge(path, len);
      return original.writeSync(fd, buf, off, fits);
    },
    writeFileSync(path: fs.PathOrFileDescriptor, data: string | ArrayBufferView, ...rest: unknown[]): void {
      if (!inside(path)) return (original.writeFileSync as (...a: unknown[]) => void)(path, data, ...rest);
      const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const fits = charge(path, buf.length);
      original.writeFileSync(path, buf.subarray(0, fits));
      if (fits < buf.length) throw enospc(path);
    },
  };
  Object.assign(fs, patched);
  syncBuiltinESMExports();
  return {
    restore() {
      Object.assign(fs, original);
      syncBuiltinESMExports();
    },
    used: () => used,
  };
}
