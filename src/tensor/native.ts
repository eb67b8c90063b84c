// Loads the native addon and explains, for this system, what to install when it cannot be loaded.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BfpoError } from '../errors.js';
import { TorchError } from './errors.js';

/** An opaque native tensor handle. */
export type Handle = { readonly __handle: unique symbol };
type H = Handle;
/** An opaque native BPE encoder. */
export type BpeHandle = { readonly __bpe: unique symbol };
type Num = number | boolean;
type Operand = H | Num;
/** A dtype name ('float32', ...) or its code. */
type Dt = string | number;

/** The addon's functions (native/*.cc). Arguments are validated again natively. */
export interface Native {
  setErrorClass(cls: unknown): void;
  dispose(h: H): void;
  isDisposed(h: H): boolean;
  setData(h: H, src: H): void;
  stats(): { liveTensors: number; hostBytes: number; hostMappedBytes: number; hostReusedBlocks: number };
  releaseFreeHostMemory(keepIdleBlocks?: boolean): boolean;
  hostAllocator: 'bfpo' | 'system';
  kernelThreads(): number;
  buildInfo(): { torchVersion: string; config: string; parallel: string };
  /** SIGINT/SIGTERM handlers that count signals (a second one exits at once); see train/signals.ts. */
  installStopSignals(): void;
  uninstallStopSignals(): void;
  /** [signals received since install, the last signal's number]. */
  stopSignals(): [number, number];
  opNames: { unary: string[]; binary: string[]; reduce: string[]; inplace: string[] };
  empty(shape: number[], dtype: Dt, device: string): H;
  zeros(shape: number[], dtype: Dt, device: string): H;
  ones(shape: number[], dtype: Dt, device: string): H;
  full(shape: number[], dtype: Dt, device: string, value: Num): H;
  randn(shape: number[], dtype: Dt, device: string): H;
  rand(shape: number[], dtype: Dt, device: string): H;
  randint(shape: number[], dtype: Dt, device: string, low: number, high: number): H;
  arange(start: number, end: number, step: number, dtype: Dt, device: string): H;
  like(h: H, kind: number): H;
  /** `as`: the dtype to convert to while copying (no intermediate tensor of the stored dtype). */
  fromBytes(buf: ArrayBufferView | ArrayBuffer, byteOffset: number, byteLength: number, shape: number[], dtype: Dt, device: string, as?: Dt): H;
  toBytes(h: H): Buffer;
  shape(h: H): number[];
  dtype(h: H): number;
  device(h: H): string;
  numel(h: H): number;
  item(h: H): number | boolean;
  toDtype(h: H, dtype: Dt): H;
  toDevice(h: H, device: string): H;
  isContiguous(h: H): boolean;
  requiresGrad(h: H): boolean;
  setRequiresGrad(h: H, v: boolean): void;
  isLeaf(h: H): boolean;
  grad(h: H): H | null;
  setGrad(h: H, g: H | null): void;
  backward(h: H, grad: H | null, retainGraph: boolean): void;
  detach(h: H): H;
  setGradEnabled(v: boolean): boolean;
  isGradEnabled(): boolean;
  enterInferenceMode(): unknown;
  exitInferenceMode(guard: unknown): void;
  isInferenceMode(): boolean;
  manualSeed(seed: number): void;
  getRngState(device?: string): H;
  setRngState(h: H, device?: string): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaManualSeedAll(seed: number): void;
  cudaCompiled(): boolean;
  cudaMemoryInfo(index: number): { free: number; total: number } | null;
  fastPaths(): { sdpa: boolean; fusedAdamwCuda: boolean; fusedAdamwCpu: boolean };
  cudaSynchronize(): void;
  unary(op: number, h: H): H;
  binary(op: number, a: Operand, b: Operand): H;
  reduce(op: number, h: H, dims: number[] | null, keepdim: boolean): H;
  inplace(op: number, h: H, other: Operand): void;
  zero_(h: H): void;
  addScaled_(h: H, other: H, alpha: number): void;
  clamp(h: H, min: number | null, max: number | null): H;
  clamp_(h: H, min: number | null, max: number | null): void;
  argmax(h: H, dim: number | null, keepdim: boolean): H;
  argmin(h: H, dim: number | null, keepdim: boolean): H;
  maxDim(h: H, dim: number, keepdim: boolean): [H, H];
  minDim(h: H, dim: number, keepdim: boolean): [H, H];
  cumsum(h: H, dim: number): H;
  norm(h: H, p: number, dims: number[] | null, keepdim: boolean): H;
  allclose(a: H, b: H, rtol: number, atol: number): boolean;
  equal(a: H, b: H): boolean;
  softmax(h: H, dim: number): H;
  logSoftmax(h: H, dim: number): H;
  linear(x: H, w: H, b: H | null): H;
  embedding(w: H, ids: H): H;
  dropout(h: H, p: number, train: boolean): H;
  crossEntropy(logits: H, target: H, ignoreIndex: number, reduction: number, labelSmoothing: number): H;
  /** impl (native/fused.cc): 0 auto (fused on the CPU for float32/bfloat16), 1 composed aten ops, 2 fused or an error. */
  rmsNorm(x: H, w: H, eps: number, impl?: number): H;
  /** log_softmax(logits [n, V])[i, targets[i]] -> [n] float32, fused on the CPU (native/logprob.cc). */
  tokenLogProbs(logits: H, targets: H): H;
  rotary(x: H, cos: H, sin: H, impl?: number): H;
  swiglu(gate: H, up: H, impl?: number): H;
  attention(q: H, k: H, v: H, blocked: H | null, scale: number, impl: number): H;
  attentionParts(q: H, k: H, v: H, layout: number[], masks: (H | null)[], scale: number): H;
  profileStart(file: string): void;
  /** bfpo's native BPE encoder (native/bpe.cc); the tables come from src/io/native-tokenizer.ts. */
  bpeCreate(vocab: string[], merges: Int32Array, added: string[], addedIds: Int32Array, unk: number,
    flags: { byteFallback: boolean; fuseUnk: boolean; ignoreMerges: boolean; metaspace: boolean; byteLevel: number }, classes?: Uint8Array): BpeHandle;
  bpeEncode(encoder: BpeHandle, texts: string[], threads: number): Promise<{ ids: Int32Array; offsets: Int32Array }>;
  profileStop(): void;
  topk(h: H, k: number, dim: number, largest: boolean, sorted: boolean): [H, H];
  sort(h: H, dim: number, descending: boolean): [H, H];
  multinomial(h: H, n: number, replacement: boolean): H;
  reshape(h: H, shape: number[]): H;
  view(h: H, shape: number[]): H;
  permute(h: H, dims: number[]): H;
  transpose(h: H, a: number, b: number): H;
  narrow(h: H, dim: number, start: number, length: number): H;
  slice(h: H, dim: number, start: number | null, end: number | null, step: number): H;
  select(h: H, dim: number, index: number): H;
  indexSelect(h: H, dim: number, index: H): H;
  gather(h: H, dim: number, index: H): H;
  scatter(h: H, dim: number, index: H, src: Operand): H;
  scatterAdd(h: H, dim: number, index: H, src: H): H;
  cat(hs: H[], dim: number): H;
  stack(hs: H[], dim: number): H;
  split(h: H, sizes: number[], dim: number): H[];
  chunk(h: H, chunks: number, dim: number): H[];
  expand(h: H, shape: number[]): H;
  repeat(h: H, reps: number[]): H;
  repeatInterleave(h: H, repeats: number, dim: number): H;
  unsqueeze(h: H, dim: number): H;
  squeeze(h: H, dim: number | null): H;
  flatten(h: H, start: number, end: number): H;
  tril(h: H, k: number): H;
  triu(h: H, k: number): H;
  maskedFill(h: H, mask: H, value: Operand): H;
  maskedFill_(h: H, mask: H, value: Num): void;
  where(cond: H, a: Operand, b: Operand): H;
  flip(h: H, dims: number[]): H;
  nonzero(h: H): H;
  indexCopy_(h: H, dim: number, index: H, src: H): void;
  adamStep(params: H[], m: H[], v: H[], steps: number[], lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: boolean): void;
  mixedAdamStep(masters: H[], models: H[], m: H[], v: H[], steps: number[], lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: boolean, scale: number): void;
  gradNorm(params: H[], normType: number): H;
  fusedAdamwStep(params: H[], m: H[], v: H[], steps: number[], lr: number, b1: number, b2: number, eps: number, wd: number): void;
  sgdStep(params: H[], bufs: (H | null)[], fresh: number[], lr: number, momentum: number, dampening: number, wd: number, nesterov: boolean): void;
  rmspropStep(params: H[], sq: H[], gavg: (H | null)[], mbuf: (H | null)[], lr: number, alpha: number, eps: number, wd: number, momentum: number, centered: boolean): void;
  clipGradNorm(params: H[], maxNorm: number, normType: number): number;
  clipGradNorm(params: H[], maxNorm: number, normType: number, asTensor: true): H;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The package root (two levels above src/tensor or dist/tensor). */
export const packageRoot = resolve(here, '..', '..');

/** Where the addon is loaded from: `BFPO_ADDON_PATH` when set, else `build/Release/bfpo.node` in the package. */
export function addonPath(): string {
  const env = process.env.BFPO_ADDON_PATH;
  return env ? resolve(env) : join(packageRoot, 'build', 'Release', 'bfpo.node');
}

/** Advice for getting libtorch, kept in one place with the build script. */
export function installAdvice(): string {
  return [
    "bfpo needs libtorch (PyTorch's C++ library) and its native addon built against it. Any one of these works:",
    '  * Debian/Ubuntu (CPU):   sudo apt-get install libtorch-dev libopenblas0-pthread && npm run build:native',
    '  * a PyTorch Python package (CPU or CUDA):   LIBTORCH_USE_PYTORCH=1 npm run build:native',
    '  * an unpacked libtorch zip (CPU or CUDA):   LIBTORCH=/path/to/libtorch npm run build:native',
    'See docs/install.md for details and for diagnosing a failed load.',
  ].join('\n');
}

/**
 * OpenMP's idle workers spin by default. With a separately threaded BLAS (OpenBLAS's pthread build, as on Debian)
 * the spinning OpenMP worker and the BLAS workers fight for the same cores, which made training steps on 2 cores
 * about 1.8x slower and short forwards several times slower. Idle OpenMP workers sleep instead unless the user set
 * OMP_WAIT_POLICY. Must happen before the addon (and so libgomp) loads; child processes inherit it.
 */
function threadingDefaults(): void {
  if (process.env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = 'PASSIVE';
}

function load(): Native {
  threadingDefaults();
  const path = addonPath();
  if (!existsSync(path)) {
    throw new BfpoError(`The bfpo native addon is not built (no ${path}).\n${installAdvice()}`);
  }
  const require = createRequire(import.meta.url);
  let mod: Native;
  try {
    mod = require(path) as Native;
  } catch (err) {
    const msg = (err as Error).message;
    let hint = '';
    const info = join(dirname(path), '..', 'libtorch.json');
    if (existsSync(info)) {
      const lt = JSON.parse(readFileSync(info, 'utf8')) as { source: string; libDirs: string[] };
      hint = `The addon was built against ${lt.source} (${lt.libDirs.join(', ')}); if that libtorch moved or was ` +
        'removed, reinstall it or rebuild with `npm run build:native`.\n';
    }
    throw new BfpoError(`The bfpo native addon ${path} could not be loaded: ${msg}\n${hint}${installAdvice()}`);
  }
  mod.setErrorClass(TorchError);
  return mod;
}

/** Op indices of the native op families, by name. */
function indexOf(names: string[]): Record<string, number> {
  return Object.fromEntries(names.map((n, i) => [n, i]));
}

const onLoad: ((n: Native) => void)[] = [];
/** Runs `fn` right after the addon loads (the process-wide defaults of runtime.ts); never loads it. */
export function afterAddonLoad(fn: (n: Native) => void): void {
  onLoad.push(fn);
}

let loaded = false;
/**
 * Loads the addon on first use: importing bfpo never touches libtorch, so its pure parts (recipes, data, the loss
 * registry) work without it. The bindings below are placeholders until then; the first property read on any of them
 * loads the addon and rebinds them (ES module bindings are live), so later calls go straight to the addon. A failed
 * load throws the install advice and is retried at the next use.
 */
function ensureLoaded(): void {
  if (loaded) return;
  const mod = load();
  native = mod;
  UNARY = indexOf(mod.opNames.unary);
  BINARY = indexOf(mod.opNames.binary);
  REDUCE = indexOf(mod.opNames.reduce);
  INPLACE = indexOf(mod.opNames.inplace);
  loaded = true;
  for (const fn of onLoad) fn(mod);
}

/** A placeholder that loads the addon at its first property read, then reads the same property of `current()`. */
function lazy<T extends object>(current: () => T): T {
  return new Proxy({} as T, {
    get: (_target, key) => {
      ensureLoaded();
      return Reflect.get(current(), key) as unknown;
    },
  });
}

/** The addon (loaded at the first use). */
export let native: Native = lazy(() => native);
/** Op indices of the native op families, by name. */
export let UNARY: Record<string, number> = lazy(() => UNARY);
export let BINARY: Record<string, number> = lazy(() => BINARY);
export let REDUCE: Record<string, number> = lazy(() => REDUCE);
export let INPLACE: Record<string, number> = lazy(() => INPLACE);
