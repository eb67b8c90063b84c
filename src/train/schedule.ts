// Learning-rate schedules as multipliers of the base rate, with the formulas of Hugging Face transformers'
// get_*_schedule_with_warmup (linear warmup from 0, then cosine / linear decay or constant).
import { expected } from '../errors.js';

export type ScheduleType = 'cosine' | 'linear' | 'constant' | 'constant_with_warmup';
export const SCHEDULE_TYPES: readonly ScheduleType[] = ['cosine', 'linear', 'constant', 'constant_with_warmup'];

export interface ScheduleOptions {
  /** Optimizer steps of the whole run. */
  totalSteps: number;
  /** Warmup steps; when 0 or absent, `ceil(warmupRatio * totalSteps)` (transformers' rule). */
  warmupSteps?: number;
  warmupRatio?: number;
}

/** The number of warmup steps: `warmupSteps` when > 0, else `ceil(totalSteps * warmupRatio)`. */
export function warmupStepsOf({ totalSteps, warmupSteps = 0, warmupRatio = 0 }: ScheduleOptions): number {
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0)) throw expected('a non-negative integer', 'warmup_steps', warmupSteps);
  if (!(warmupRatio >= 0 && warmupRatio <= 1)) throw expected('a number in [0, 1]', 'warmup_ratio', warmupRatio);
  return warmupSteps > 0 ? warmupSteps : Math.ceil(totalSteps * warmupRatio);
}

/**
 * The multiplier of the base learning rate after `step` optimizer steps (the rate used by step `step + 1`).
 * - constant: 1
 * - constant_with_warmup: step / warmup during warmup, then 1
 * - linear: warmup, then (total - step) / (total - warmup), floored at 0
 * - cosine: warmup, then 0.5 * (1 + cos(pi * progress)), progress = (step - warmup) / (total - warmup)
 *
 * @example const lr = 5e-7 * lrMultiplier('cosine', step, { totalSteps: 1000, warmupRatio: 0.1 });
 */
export function lrMultiplier(type: ScheduleType, step: number, opts: ScheduleOptions): number {
  if (!SCHEDULE_TYPES.includes(type)) throw expected(`one of ${SCHEDULE_TYPES.join(', ')}`, 'lr_scheduler_type', type);
  const total = opts.totalSteps;
  if (!(Number.isInteger(total) && total >= 0)) throw expected('a non-negative integer', 'totalSteps', total);
  if (type === 'constant') return 1;
  const warmup = warmupStepsOf(opts);
  if (step < warmup) return step / Math.max(1, warmup);
  if (type === 'constant_with_warmup') return 1;
  if (type === 'linear') return Math.max(0, (total - step) / Math.max(1, total - warmup));
  const progress = (step - warmup) / Math.max(1, total - warmup);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
