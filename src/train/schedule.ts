// Learning-rate schedules as multipliers of the base rate, one registry entry each, with the formulas of Hugging
// Face transformers' get_*_schedule_with_warmup (linear warmup from 0, then cosine / linear decay or constant).
import { expected } from '../errors.js';

/** A schedule: the multiplier after `step` of `total` steps, `warmup` of them warming up. */
export interface ScheduleSpec {
  /** One line for docs and `--help`. */
  doc: string;
  /** false: `warmup` is not read (and warmup_steps / warmup_ratio are not checked). */
  usesWarmup: boolean;
  lr(step: number, warmup: number, total: number): number;
}

/** Linear warmup from 0: step / warmup. */
const warmingUp = (step: number, warmup: number): number => step / Math.max(1, warmup);

/** The schedules by name (the recipe's lr_scheduler_type). */
export const SCHEDULES = {
  cosine: {
    doc: 'warmup, then 0.5 * (1 + cos(pi * progress)), progress = (step - warmup) / (total - warmup)',
    usesWarmup: true,
    lr: (step, warmup, total) => {
      if (step < warmup) return warmingUp(step, warmup);
      const progress = (step - warmup) / Math.max(1, total - warmup);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    },
  },
  linear: {
    doc: 'warmup, then (total - step) / (total - warmup), floored at 0',
    usesWarmup: true,
    lr: (step, warmup, total) => (step < warmup ? warmingUp(step, warmup) : Math.max(0, (total - step) / Math.max(1, total - warmup))),
  },
  constant: { doc: '1 (no warmup)', usesWarmup: false, lr: () => 1 },
  constant_with_warmup: {
    doc: 'warmup, then 1',
    usesWarmup: true,
    lr: (step, warmup) => (step < warmup ? warmingUp(step, warmup) : 1),
  },
} as const satisfies Record<string, ScheduleSpec>;

export type ScheduleType = keyof typeof SCHEDULES;
export const SCHEDULE_TYPES: readonly ScheduleType[] = Object.keys(SCHEDULES) as ScheduleType[];

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
 * The multiplier of the base learning rate after `step` optimizer steps (the rate used by step `step + 1`), from
 * the `SCHEDULES` entry of `type` (warmup is linear from 0 for every schedule that has one).
 *
 * @example const lr = 5e-7 * lrMultiplier('cosine', step, { totalSteps: 1000, warmupRatio: 0.1 });
 */
export function lrMultiplier(type: ScheduleType, step: number, opts: ScheduleOptions): number {
  if (!Object.hasOwn(SCHEDULES, type)) throw expected(`one of ${SCHEDULE_TYPES.join(', ')}`, 'lr_scheduler_type', type);
  const spec: ScheduleSpec = SCHEDULES[type];
  const total = opts.totalSteps;
  if (!(Number.isInteger(total) && total >= 0)) throw expected('a non-negative integer', 'totalSteps', total);
  return spec.lr(step, spec.usesWarmup ? warmupStepsOf(opts) : 0, total);
}
