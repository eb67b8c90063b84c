// The optimizer a recipe's `optim` key names, over the trainable parameters; and its state to and from disk.
import { expected } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { Adam, AdamW, RMSprop, SGD, type Optimizer, type OptimizerStateDict, type ParamState } from '../optim/index.js';
import { readTensors, writeTensors } from './tensor-store.js';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.js';

export type OptimName = 'adamw_torch' | 'adamw' | 'adam' | 'sgd' | 'rmsprop';
export const OPTIM_NAMES: readonly OptimName[] = ['adamw_torch', 'adamw', 'adam', 'sgd', 'rmsprop'];

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

/**
 * Builds the optimizer of `optim` ('adamw_torch' and 'adamw' are both torch's AdamW, as in transformers).
 * @example const opt = makeOptimizer(params, { optim: 'adamw_torch', learningRate: 5e-7, ... });
 */
export function makeOptimizer(params: Tensor[], s: OptimSettings): AnyOptimizer {
  const lr = s.learningRate;
  switch (s.optim) {
    case 'adamw_torch':
    case 'adamw':
      return new AdamW(params, { lr, betas: [s.adamBeta1, s.adamBeta2], eps: s.adamEpsilon, weightDecay: s.weightDecay }) as unknown as AnyOptimizer;
    case 'adam':
      return new Adam(params, { lr, betas: [s.adamBeta1, s.adamBeta2], eps: s.adamEpsilon, weightDecay: s.weightDecay }) as unknown as AnyOptimizer;
    case 'sgd':
      return new SGD(params, { lr, momentum: s.momentum, weightDecay: s.weightDecay }) as unknown as AnyOptimizer;
    case 'rmsprop':
      return new RMSprop(params, { lr, momentum: s.momentum, weightDecay: s.weightDecay, eps: s.adamEpsilon }) as unknown as AnyOptimizer;
    default:
      throw expected(`one of ${OPTIM_NAMES.join(', ')}`, 'optim', s.optim);
  }
}

/** Writes the optimizer's state as `<base>.json` (hyper-parameters, numbers) and `<base>-tensors.{bin,json}`. */
export function saveOptimizer(opt: AnyOptimizer, base: string): void {
  const sd = opt.stateDict();
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
  writeTensors(`${base}-tensors`, tensors);
  writeFileAtomic(`${base}.json`, JSON.stringify({ groups: sd.groups, state }));
}

/** Restores what `saveOptimizer` wrote into an optimizer over the same parameters. */
export function loadOptimizer(opt: AnyOptimizer, base: string): void {
  const json = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as {
    groups: OptimizerStateDict<{ lr: number }>['groups'];
    state: (Record<string, number | { tensor: string }> | null)[];
  };
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
