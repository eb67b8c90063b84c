// `bfpo --version` and `bfpo env`: what this installation runs on (versions, libtorch, BLAS, CUDA, threads) and
// how fast a float32 and a bfloat16 matrix product are here, for bug reports and for choosing bf16.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addonPath, packageRoot } from '../tensor/native.js';
import { buildInfo, cuda, detectBlas, getNumThreads } from '../tensor/runtime.js';
import { bf16Probe, describeBf16Probe, matmulSpeed } from '../train/bf16-probe.js';

export { matmulSpeed };

/** The installed bfpo version, from its package.json. */
export function bfpoVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The lines `bfpo env` prints, as label/value pairs. */
export function environmentReport(): [string, string][] {
  const info = join(packageRoot, 'build', 'libtorch.json');
  const lt = existsSync(info) ? JSON.parse(readFileSync(info, 'utf8')) as { source?: string; libDirs?: string[]; version?: string; cuda?: boolean } : {};
  const bi = buildInfo();
  const f32 = matmulSpeed('float32');
  const bf16 = matmulSpeed('bfloat16');
  let probe: string;
  try {
    probe = describeBf16Probe(bf16Probe());
  } catch (e) {
    probe = (e as Error).message;
  }
  return [
    ['bfpo', `${bfpoVersion()} (${packageRoot})`],
    ['Node.js', `${process.version} ${process.platform}-${process.arch}`],
    ['libtorch', `${bi.torchVersion} from ${lt.source ?? 'unknown'}${lt.libDirs ? ` (${lt.libDirs.join(', ')})` : ''}`],
    ['addon', addonPath()],
    ['BLAS', detectBlas()],
    ['CUDA', cuda.isAvailable() ? `available, ${cuda.deviceCount()} device(s)` : `not available${lt.cuda ? ' (libtorch has CUDA but no device was found)' : ' (CPU build of libtorch)'}`],
    ['threads', `${getNumThreads()} (set BFPO_NUM_THREADS to change)`],
    ['parallel', bi.parallel.split('\n').filter((l) => /OpenMP|MKL|backend/i.test(l)).map((l) => l.trim()).join('; ') || 'unknown'],
    ['matmul 256', `float32 ${f32.toFixed(1)} GFLOP/s, bfloat16 ${bf16.toFixed(1)} GFLOP/s (bf16 is ${(bf16 / f32).toFixed(2)}x float32${bf16 < f32 / 2 ? ': this CPU has no fast bf16, prefer float32 here' : ''})`],
    ['bf16', probe],
  ];
}

/** Prints the environment report. @example bfpo env */
export function envCommand(log: (s: string) => void = (s) => console.log(s)): void {
  const rows = environmentReport();
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) log(`${k.padEnd(w)}  ${v}`);
}
