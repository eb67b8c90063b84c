// `bfpo --version` and `bfpo env`: what this installation runs on (versions, libtorch, BLAS, CUDA, threads) and
// how fast a float32 and a bfloat16 matrix product are here, for bug reports and for choosing bf16.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addonPath, packageRoot } from '../tensor/native.js';
import { buildInfo, cuda, detectBlas, fastPaths, getNumThreads, kernelThreads } from '../tensor/runtime.js';
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
    ['CUDA', cudaLine()],
    ['fast paths', fastPathLine()],
    ['threads', `${getNumThreads()} (bfpo's own kernels: ${kernelThreads()}; set BFPO_NUM_THREADS to change)`],
    ['parallel', bi.parallel.split('\n').filter((l) => /OpenMP|MKL|backend/i.test(l)).map((l) => l.trim()).join('; ') || 'unknown'],
    ['matmul 256', `float32 ${f32.toFixed(1)} GFLOP/s, bfloat16 ${bf16.toFixed(1)} GFLOP/s (bf16 is ${(bf16 / f32).toFixed(2)}x float32${bf16 < f32 / 2 ? ': this CPU has no fast bf16, prefer float32 here' : ''})`],
    ['bf16', probe],
  ];
}

/** The CUDA line: devices and their memory, or why there is none. */
function cudaLine(): string {
  if (!cuda.isBuilt()) return 'not available (the addon is built against a CPU-only libtorch; docs/gpu.md tells how to build against a CUDA PyTorch)';
  if (!cuda.isAvailable()) return 'not available (libtorch has CUDA but no device is visible; check nvidia-smi and CUDA_VISIBLE_DEVICES)';
  const n = cuda.deviceCount();
  const mem = Array.from({ length: n }, (_, i) => cuda.memoryInfo(i)).map((m, i) => `cuda:${i}${m ? ` ${(m.total / 2 ** 30).toFixed(1)} GiB (${(m.free / 2 ** 30).toFixed(1)} free)` : ''}`);
  return `available, ${n} device(s): ${mem.join(', ')}; device: auto picks cuda:0`;
}

/** Which fast paths this libtorch has (docs/gpu.md). */
function fastPathLine(): string {
  const f = fastPaths();
  const yes = (b: boolean): string => (b ? 'yes' : 'no');
  return `sdpa attention ${yes(f.sdpa)}, fused AdamW on CUDA ${yes(f.fusedAdamwCuda)}, on CPU ${yes(f.fusedAdamwCpu)} (libtorch 2.0+ / 2.4+)`;
}

/** Prints the environment report. @example bfpo env */
export function envCommand(log: (s: string) => void = (s) => console.log(s)): void {
  const rows = environmentReport();
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) log(`${k.padEnd(w)}  ${v}`);
}
