// Whether bfloat16 pays on this machine: a short timing of float32 and bfloat16 matrix products, measured once per
// machine and kept in the user's cache folder, decides what `bf16: auto` trains in.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { randn } from '../tensor/creation.js';
import type { Device, DType } from '../tensor/dtype.js';
import { type DeviceSetting, resolveDevice } from '../tensor/device.js';
import { buildInfo, cuda, getNumThreads } from '../tensor/runtime.js';

/** bf16: auto trains in bfloat16 when its matrix products run at least this many times as fast as float32's. */
export const BF16_MIN_SPEEDUP = 1.3;

/** The environment variable that skips the probe: `float32` or `bfloat16` is then what auto means. */
export const BF16_AUTO_ENV = 'BFPO_BF16_AUTO';

/** One probe's result. */
export interface Bf16Probe {
  /** GFLOP/s of a float32 and a bfloat16 n x n matrix product (the best of several timings). */
  float32: number;
  bfloat16: number;
  /** bfloat16 / float32. */
  speedup: number;
  /** speedup >= BF16_MIN_SPEEDUP. */
  useBf16: boolean;
  /** What the probe was measured on (CPU model, flags digest, libtorch version, threads). */
  machine: string;
  /** ISO time of the measurement. */
  measuredAt: string;
  /** Where it came from: measured now, read from the cache file, or forced by BFPO_BF16_AUTO. */
  source: 'measured' | 'cache' | 'environment';
}

/**
 * GFLOP/s of an n x n matrix product in `dtype` on the CPU: the fastest of `repeats` timed products after a warm-up
 * (the fastest, not the median, so that other programs sharing the cores slow the figure as little as possible).
 */
export function matmulSpeed(dtype: DType, n = 256, repeats = 5): number {
  const a = randn([n, n], { dtype });
  const b = randn([n, n], { dtype });
  try {
    a.matmul(b).dispose();
    let best = Infinity;
    for (let i = 0; i < repeats; i++) {
      const t0 = process.hrtime.bigint();
      a.matmul(b).dispose();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    return (2 * n ** 3) / Math.max(best, 1e-9) / 1e9;
  } finally {
    a.dispose();
    b.dispose();
  }
}

/** What identifies a machine for the probe: CPU model, a digest of its feature flags, libtorch version and threads. */
export function machineKey(): string {
  let flags = '';
  try {
    flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  } catch { /* not Linux: the model name alone */ }
  const digest = createHash('sha256').update(flags).digest('hex').slice(0, 12);
  return `${cpus()[0]?.model ?? 'unknown CPU'} | ${process.arch} flags ${digest} | libtorch ${buildInfo().torchVersion} | ${getNumThreads()} threads`;
}

/** The probe's cache file: $XDG_CACHE_HOME/bfpo/bf16-probe.json (else ~/.cache/bfpo/bf16-probe.json). */
export function probeCacheFile(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bfpo', 'bf16-probe.json');
}

type CacheFile = Record<string, Omit<Bf16Probe, 'source' | 'machine'>>;

function readCache(file: string): CacheFile {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? v as CacheFile : {};
  } catch {
    return {};
  }
}

/** Measures both dtypes, interleaved three times (the best of each), at the size of a small model's projections. */
export function measureBf16(n = 384): { float32: number; bfloat16: number } {
  let float32 = 0;
  let bfloat16 = 0;
  for (let round = 0; round < 3; round++) {
    float32 = Math.max(float32, matmulSpeed('float32', n, 4));
    bfloat16 = Math.max(bfloat16, matmulSpeed('bfloat16', n, 4));
  }
  return { float32, bfloat16 };
}

let memo: Bf16Probe | null = null;

/**
 * This machine's probe: BFPO_BF16_AUTO when set, else the cache file's entry for this machine, else a measurement
 * (about a second; written to the cache file). Remembered for the rest of the process.
 * @example if (bf16Probe().useBf16) model.to('bfloat16');
 */
export function bf16Probe(opts: { fresh?: boolean; measure?: () => { float32: number; bfloat16: number } } = {}): Bf16Probe {
  const machine = machineKey();
  const forced = process.env[BF16_AUTO_ENV];
  if (forced !== undefined && forced !== '') {
    if (forced !== 'float32' && forced !== 'bfloat16') {
      throw new Error(`${BF16_AUTO_ENV} must be float32 or bfloat16 (what bf16: auto then means), not "${forced}"`);
    }
    return { float32: NaN, bfloat16: NaN, speedup: NaN, useBf16: forced === 'bfloat16', machine, measuredAt: '', source: 'environment' };
  }
  if (!opts.fresh && memo && memo.machine === machine) return memo;
  const file = probeCacheFile();
  const cache = existsSync(file) ? readCache(file) : {};
  const hit = opts.fresh ? undefined : cache[machine];
  if (hit && typeof hit.float32 === 'number' && typeof hit.bfloat16 === 'number' && typeof hit.useBf16 === 'boolean') {
    memo = { ...hit, machine, source: 'cache' };
    return memo;
  }
  const m = (opts.measure ?? measureBf16)();
  const speedup = m.bfloat16 / m.float32;
  const entry = { float32: m.float32, bfloat16: m.bfloat16, speedup, useBf16: speedup >= BF16_MIN_SPEEDUP, measuredAt: new Date().toISOString() };
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, `${JSON.stringify({ ...cache, [machine]: entry }, null, 2)}\n`);
  } catch { /* a read-only cache folder: measure again next time */ }
  memo = { ...entry, machine, source: 'measured' };
  return memo;
}

/** Forgets the probe remembered in this process (tests; a changed thread count is a different machine key anyway). */
export function forgetBf16Probe(): void {
  memo = null;
}

/**
 * Whether a run computes in bfloat16 with float32 master weights: `true`/`false` as given; `auto` follows the probe,
 * except that an explicit `torch_dtype` is kept (auto then means false).
 * @example resolveBf16('auto', null) // true on a CPU whose bfloat16 products are >= 1.3x float32's
 */
export function resolveBf16(setting: boolean | 'auto', torchDtype: string | null, device: DeviceSetting = 'cpu'): boolean {
  if (setting !== 'auto') return setting;
  if (torchDtype !== null) return false;
  let target: Device = 'cpu';
  try {
    target = resolveDevice(device, 'device');
  } catch {
    // A CUDA device that cannot be used here: the run stops at its start with the reason; decide as for the CPU.
  }
  return target === 'cpu' ? bf16Probe().useBf16 : cudaBf16Probe(target).useBf16;
}

const cudaMemo = new Map<string, { float32: number; bfloat16: number; useBf16: boolean }>();

/**
 * Whether bfloat16 pays on a CUDA device: float32 and bfloat16 2048 x 2048 products timed there (the device waited
 * for), once per process; GPUs with bfloat16 tensor cores run it several times as fast, older ones emulate it.
 */
export function cudaBf16Probe(device: Device): { float32: number; bfloat16: number; useBf16: boolean } {
  const hit = cudaMemo.get(device);
  if (hit) return hit;
  const forced = process.env[BF16_AUTO_ENV];
  if (forced === 'float32' || forced === 'bfloat16') return { float32: NaN, bfloat16: NaN, useBf16: forced === 'bfloat16' };
  const speed = (dtype: DType): number => {
    const n = 2048;
    const a = randn([n, n], { dtype, device });
    const b = randn([n, n], { dtype, device });
    try {
      a.matmul(b).dispose();
      cuda.synchronize();
      let best = Infinity;
      for (let i = 0; i < 5; i++) {
        const t0 = process.hrtime.bigint();
        a.matmul(b).dispose();
        cuda.synchronize();
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
      }
      return (2 * n ** 3) / Math.max(best, 1e-9) / 1e9;
    } finally {
      a.dispose();
      b.dispose();
    }
  };
  const float32 = speed('float32');
  const bfloat16 = speed('bfloat16');
  const out = { float32, bfloat16, useBf16: bfloat16 / float32 >= BF16_MIN_SPEEDUP };
  cudaMemo.set(device, out);
  return out;
}

/** One line for `bfpo env`: the probe and what bf16: auto chooses. */
export function describeBf16Probe(p: Bf16Probe): string {
  const choice = p.useBf16 ? 'bfloat16' : 'float32';
  if (p.source === 'environment') return `auto trains in ${choice} (${BF16_AUTO_ENV}=${choice}; no probe)`;
  return `auto trains in ${choice}: bfloat16 matmul ${p.bfloat16.toFixed(1)} vs float32 ${p.float32.toFixed(1)} GFLOP/s = ` +
    `${p.speedup.toFixed(2)}x (bfloat16 when >= ${BF16_MIN_SPEEDUP}x; ${p.source === 'cache' ? `cached ${p.measuredAt} in ${probeCacheFile()}` : `measured now, cached in ${probeCacheFile()}`})`;
}
