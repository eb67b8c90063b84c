// The optimizers a recipe's `optim` key names (a registry: constructor and the keys each reads); their state to and from disk.
import { BfpoError, expected } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { Adam, AdamW, RMSprop, SGD, type Optimizer, type OptimizerStateDict, type ParamState } from '../optim/index.js';
import { readSomeTensors, readTensors, tensorFiles } from './tensor-store.js';
import { readFileSync } from 'node:fs';
import { type PendingFile, pendingFile, writeFiles } from '../io/atomic.js';

export interface OptimSettings {
  optim: OptimName;
  learningRate: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  momentum: number;
}

/** Any of the engine's optimizers (their hyper-parameter types differ; the loop only sets `lr`). */
export type AnyOptimizer = Optimizer<{ lr: number }>;

/** An optimizer: its constructor over the trainable parameters and the recipe keys it reads. */
export interface OptimizerSpec {
  doc: string;
  /** The recipe keys (besides learning_rate) whose values it reads. */
  reads: readonly string[];
  /** The name this one is another name of (it builds the same optimizer). */
  aliasOf?: string;
  make(params: Tensor[], s: Omit<OptimSettings, 'optim'>): AnyOptimizer;
}

const ADAM_KEYS = ['weight_decay', 'adam_beta1', 'adam_beta2', 'adam_epsilon'] as const;
const adamW: OptimizerSpec['make'] = (params, s) =>
  new AdamW(params, { lr: s.learningRate, betas: [s.adamBeta1, s.adamBeta2], eps: s.adamEpsilon, weightDecay: s.weightDecay }) as unknown as AnyOptimizer;

/** The optimizers by name (the recipe's optim); 'adamw_torch' and 'adamw' are both torch's AdamW, as in transformers. */
export const OPTIMIZERS = {
  adamw_torch: { doc: 'AdamW (decoupled weight decay)', reads: ADAM_KEYS, make: adamW },
  adamw: { doc: 'AdamW (decoupled weight decay)', reads: ADAM_KEYS, aliasOf: 'adamw_torch', make: adamW },
  adamw_torch_fused: {
    doc: 'AdamW through libtorch\'s fused multi-tensor kernel where this libtorch has it (CUDA with libtorch 2.0+, CPU with 2.4+), the plain AdamW update elsewhere',
    reads: ADAM_KEYS,
    make: (params, s) => new AdamW(params, { lr: s.learningRate, betas: [s.adamBeta1, s.adamBeta2], eps: s.adamEpsilon, weightDecay: s.weightDecay, fused: true }) as unknown as AnyOptimizer,
  },
  adam: {
    doc: 'Adam (L2 weight decay added to the gradient)',
    reads: ADAM_KEYS,
    make: (params, s) => new Adam(params, { lr: s.learningRate, betas: [s.adamBeta1, s.adamBeta2], eps: s.adamEpsilon, weightDecay: s.weightDecay }) as unknown as AnyOptimizer,
  },
  sgd: {
    doc: 'SGD with momentum',
    reads: ['weight_decay', 'momentum'],
    make: (params, s) => new SGD(params, { lr: s.learningRate, momentum: s.momentum, weightDecay: s.weightDecay }) as unknown as AnyOptimizer,
  },
  rmsprop: {
    doc: 'RMSprop',
    reads: ['weight_decay', 'momentum', 'adam_epsilon'],
    make: (params, s) => new RMSprop(params, { lr: s.learningRate, momentum: s.momentum, weightDecay: s.weightDecay, eps: s.adamEpsilon }) as unknown as AnyOptimizer,
  },
} as const satisfies Record<string, OptimizerSpec>;

export type OptimName = keyof typeof OPTIMIZERS;
export const OPTIM_NAMES: readonly OptimName[] = Object.keys(OPTIMIZERS) as OptimName[];

/**
 * Builds the optimizer `optim` names in `OPTIMIZERS`.
 * @example const opt = makeOptimizer(params, { optim: 'adamw_torch', learningRate: 5e-7, ... });
 */
export function makeOptimizer(params: Tensor[], s: OptimSettings): AnyOptimizer {
  if (!Object.hasOwn(OPTIMIZERS, s.optim)) throw expected(`one of ${OPTIM_NAMES.join(', ')}`, 'optim', s.optim);
  const spec: OptimizerSpec = OPTIMIZERS[s.optim];
  return spec.make(params, s);
}

/** Writes the optimizer's state as `<base>.json` (hyper-parameters, numbers) and `<base>-tensors.{bin,json}`. */
export function saveOptimizer(opt: AnyOptimizer, base: string): void {
  writeFiles(optimizerFiles(opt, base));
}

/** The files of `saveOptimizer`, still to be written (see io/atomic.ts). */
export function optimizerFiles(opt: AnyOptimizer, base: string): PendingFile[] {
  return stateDictFiles(opt.stateDict(), base);
}

/** The files of a state dict (`<base>.json` and `<base>-tensors.{bin,json}`); entries that are null stay null. */
export function stateDictFiles(sd: OptimizerStateDict<{ lr: number }>, base: string): PendingFile[] {
  const tensors = new Map<string, Tensor>();
  const state = sd.state.map((s, i) => {
    if (!s) return null;
    const entry: Record<string, number | { tensor: string }> = {};
    for (const [k, v] of Object.entries(s)) {
      if (v instanceof Tensor) {
        tensors.set(`${i}.${k}`, v);
        entry[k] = { tensor: `${i}.${k}` };
      } else entry[k] = v;
    }
    return entry;
  });
  return [...tensorFiles(`${base}-tensors`, tensors), pendingFile(`${base}.json`, JSON.stringify({ groups: sd.groups, state }))];
}

/** What `<base>.json` of `stateDictFiles` holds. */
interface StateDictJson {
  groups: OptimizerStateDict<{ lr: number }>['groups'];
  state: (Record<string, number | { tensor: string }> | null)[];
}

/**
 * The state of the parameters `indices` from the files of `stateDictFiles` (the others' entries are left out of
 * the result); only their tensors are read from `<base>-tensors.bin`. The caller disposes the tensors.
 */
export function readStateEntries(base: string, indices: Iterable<number>): { groups: StateDictJson['groups']; paramCount: number; entries: Map<number, ParamState | null> } {
  let json: StateDictJson;
  try {
    json = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as StateDictJson;
  } catch (e) {
    throw new BfpoError(`Cannot read the optimizer state ${base}.json: ${(e as Error).message}`);
  }
  const wanted = new Set(indices);
  const names = new Set<string>();
  for (const i of wanted) for (const v of Object.values(json.state[i] ?? {})) if (typeof v !== 'number') names.add(v.tensor);
  const tensors = readSomeTensors(`${base}-tensors`, (n) => names.has(n));
  const entries = new Map<number, ParamState | null>();
  for (const i of wanted) {
    const s = json.state[i];
    if (!s) { entries.set(i, null); continue; }
    const out: ParamState = {};
    for (const [k, v] of Object.entries(s)) {
      const t = typeof v === 'number' ? v : tensors.get(v.tensor);
      if (t === undefined) throw new BfpoError(`${base}-tensors.json has no tensor ${(v as { tensor: string }).tensor}`);
      out[k] = t;
    }
    entries.set(i, out);
  }
  return { groups: json.groups, paramCount: json.state.length, entries };
}

/** Restores what `saveOptimizer` wrote into an optimizer over the same parameters. */
export function loadOptimizer(opt: AnyOptimizer, base: string): void {
  const json = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as StateDictJson;
  const tensors = readTensors(`${base}-tensors`);
  try {
    const state = json.state.map((s) => {
      if (!s) return null;
      const out: ParamState = {};
      for (const [k, v] of Object.entries(s)) out[k] = typeof v === 'number' ? v : (tensors.get(v.tensor) as Tensor);
      return out;
    });
    opt.loadStateDict({ groups: json.groups, state });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
