// Process-wide settings: threads, random seeds, devices, memory statistics and the BLAS check.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { expected } from '../errors.js';
import { afterAddonLoad, native } from './native.js';
import { type Device, checkDevice } from './dtype.js';
import { Tensor, wrap } from './tensor.js';

/** Sets the number of threads libtorch uses for intra-op parallelism. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw expected('a positive integer', 'setNumThreads(n)', n);
  native.setNumThreads(n);
}
export const getNumThreads = (): number => native.getNumThreads();

/** Seeds the global generators (CPU, and every CUDA device when present). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw expected('a non-negative integer', 'manualSeed(seed)', seed);
  native.manualSeed(seed);
}

/**
 * The state of the CPU generator, or of a CUDA device's generator when `device` names one, as a uint8 tensor on
 * the CPU (to save with a checkpoint).
 */
export const getRngState = (device: Device = 'cpu'): Tensor => wrap(device === 'cpu' ? native.getRngState() : native.getRngState(checkDevice(device)));
/** Restores a state from `getRngState(device)` into the same device's generator. */
export function setRngState(state: Tensor, device: Device = 'cpu'): void {
  if (device === 'cpu') native.setRngState(state.handle);
  else native.setRngState(state.handle, checkDevice(device));
}

/** CUDA queries. */
export const cuda = {
  /** A device is visible to this libtorch (it has CUDA and the driver sees at least one GPU). */
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  /** The addon was linked against libtorch's CUDA libraries (false for a CPU-only libtorch such as Debian's). */
  isBuilt: (): boolean => native.cudaCompiled(),
  synchronize: (): void => native.cudaSynchronize(),
  /**
   * Free and total bytes of CUDA device `index` as the driver sees them (memory libtorch caches counts as used), or
   * null where no CUDA runtime is loaded.
   */
  memoryInfo: (index = 0): { free: number; total: number } | null => native.cudaMemoryInfo(index),
};

/**
 * The fast paths this libtorch has: `sdpa` (at::scaled_dot_product_attention, libtorch 2.0+), fused AdamW on CUDA
 * (2.0+) and on CPU (2.4+). The plain paths are used where these are false.
 */
export const fastPaths = (): { sdpa: boolean; fusedAdamwCuda: boolean; fusedAdamwCpu: boolean } => native.fastPaths();

/**
 * Live native tensors and the host bytes they own (for leak checks); with the bfpo host allocator also the bytes it
 * handed out without resident pages since the start (`hostMappedBytes`: each one is a page fault's worth of work when
 * first written) and how many requests it served from freed memory (`hostReusedBlocks`); both stay 0 with
 * BFPO_HOST_ALLOCATOR=system.
 */
export const memoryStats = (): { liveTensors: number; hostBytes: number; hostMappedBytes: number; hostReusedBlocks: number } => native.stats();

/**
 * Hands the C allocator's free memory back to the system (glibc's malloc_trim, which also releases free pages in
 * the middle of the heap), and the bfpo host allocator's free large blocks unless `keepIdleBlocks`. Tensors of
 * ever-changing sizes (padding-free batches, evaluation batches) leave holes in glibc's heap that it keeps resident;
 * long runs call this at log records (keeping the free blocks, which the next step reuses and which never exceed the
 * peak in use), and after evaluations and checkpoints (all of it), so their resident memory stays flat. A full
 * release also lowers what V8 is told of the tensors' memory (their high-water mark until then) to what is in use.
 * Returns false where the C library has no such call (then only the free blocks are released, unless kept).
 */
export const releaseFreeHostMemory = (o: { keepIdleBlocks?: boolean } = {}): boolean => native.releaseFreeHostMemory(o.keepIdleBlocks === true);

/**
 * Which allocator CPU tensors use: 'bfpo' (blocks from 128 KiB on come from one arena, cut by best fit and merged
 * again when freed, their memory kept for reuse; free memory goes back to the system at `releaseFreeHostMemory()`),
 * or 'system' (libtorch's own, on the C allocator), chosen with BFPO_HOST_ALLOCATOR=system before the addon loads.
 */
export const hostAllocator = (): 'bfpo' | 'system' => native.hostAllocator;

/**
 * How many threads run a parallel loop of bfpo's own CPU kernels (the fused SwiGLU, RMSNorm, rotary, token
 * log-probabilities and optimizer steps): `getNumThreads()` when the addon is built with libtorch's OpenMP runtime,
 * 1 where it was built without OpenMP (those kernels then run serially).
 */
export const kernelThreads = (): number => native.kernelThreads();

/** libtorch's version and build configuration. */
export const buildInfo = (): { torchVersion: string; config: string; parallel: string } => native.buildInfo();

/** Which BLAS library the process loaded: 'openblas', 'mkl', 'reference' (netlib, slow), or 'unknown'. */
export function detectBlas(): 'openblas' | 'mkl' | 'blis' | 'reference' | 'unknown' {
  if (/mkl/i.test(native.buildInfo().config) && /BLAS_INFO=mkl/i.test(native.buildInfo().config)) return 'mkl';
  if (!existsSync('/proc/self/maps')) return 'unknown';
  const maps = readFileSync('/proc/self/maps', 'utf8');
  if (/libopenblas/i.test(maps) || /openblas-(pthread|openmp|serial)\/libblas/.test(maps)) {
    // Debian's alternatives may load the reference libblas.so.3 even when OpenBLAS is installed for LAPACK.
    const libblas = /\s(\S*\/libblas\.so[.\d]*)$/m.exec(maps)?.[1] ?? '';
    return libblas && !/openblas/.test(libblas) ? 'reference' : 'openblas';
  }
  if (/libmkl/i.test(maps)) return 'mkl';
  if (/libblis/i.test(maps)) return 'blis';
  if (/\/blas\/libblas\.so/.test(maps) || /\/libblas\.so/.test(maps)) return 'reference';
  return 'unknown';
}

let blasWarned = false;
/** Warns once on stderr when libtorch runs on the reference BLAS, which is about 25x slower. */
export function warnIfReferenceBlas(): void {
  if (blasWarned || process.env.BFPO_NO_BLAS_WARNING) return;
  blasWarned = true;
  if (detectBlas() === 'reference') {
    process.emitWarning(
      'libtorch is using the reference BLAS (netlib), which makes matrix products about 25x slower. ' +
        'Install OpenBLAS: `sudo apt-get install libopenblas0-pthread` (Debian/Ubuntu picks it up automatically ' +
        'through update-alternatives).',
      { code: 'BFPO_REFERENCE_BLAS' },
    );
  }
}

/** Applies the defaults: all cores (or BFPO_NUM_THREADS), and the BLAS check. Runs once, when the addon loads. */
function initRuntime(): void {
  const env = Number(process.env.BFPO_NUM_THREADS);
  native.setNumThreads(Number.isInteger(env) && env > 0 ? env : availableParallelism());
  warnIfReferenceBlas();
}
afterAddonLoad(initRuntime);
