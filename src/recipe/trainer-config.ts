// From a recipe's training keys to the trainer's configuration, and the run identity that a resume compares.
import type { TrainerConfig } from '../train/trainer.js';
import { OPTIM_NAMES } from '../train/optimizers.js';
import { SCHEDULE_TYPES } from '../train/schedule.js';
import { resolveBf16 } from '../train/bf16-probe.js';
import { checkDeviceSetting } from '../tensor/device.js';
import { RECIPE_KEYS } from './recipe-keys.js';
import type { Recipe } from './recipe.js';
import type { RecipeValues } from './values.js';
import { REPORT_TO_VALUES } from './report-to.js';

/** Keys that may change between a run and its resumption: they do not change the trained weights. */
export const RESUME_IGNORED_KEYS: readonly string[] = [
  'output_dir', 'resume_from_checkpoint', 'logging_steps', 'logging_strategy', 'logging_first_step', 'report_to',
  'disable_tqdm', 'run_name', 'do_eval', 'evaluation_strategy', 'eval_steps', 'per_device_eval_batch_size',
  'save_strategy', 'save_steps', 'save_total_limit', 'reference_cache_dir', 'other_data_config', 'other_data_config_wins',
  'original_metrics', 'tokenized_cache', 'tokenized_cache_dir',
  // Recorded for provenance; the same files may sit at other paths on another machine.
  'data_files',
  // Checkpointing changes memory and time, not the gradients: a run may resume with it switched on or off.
  'gradient_checkpointing', 'gradient_checkpointing_kwargs',
  // Where a run computes and which attention kernel it uses change rounding, not the training: a checkpoint written
  // on a GPU resumes on the CPU and the reverse.
  'device', 'attn_implementation',
  // Padding-free batches give the padded batches' gradients to float tolerance.
  'padding_free',
  ...RECIPE_KEYS.filter((s) => s.group === 'accepted').map((s) => s.key),
];

/**
 * The keys that identify a run (stored with each checkpoint and compared on resume). A record of recipe keys by
 * nature, so it reads the raw values rather than the typed settings.
 */
export function runIdentity(r: Recipe): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r.values).filter(([k]) => !RESUME_IGNORED_KEYS.includes(k)));
}

const STRATEGIES = ['no', 'steps', 'epoch'] as const;
/** The values of torch_dtype. */
export const TORCH_DTYPES = ['auto', 'bfloat16', 'float16', 'float32'] as const;

/** The trainer configuration of a recipe's training keys (resolveSettings calls it after the cross-key checks). */
export function trainerConfig(v: RecipeValues, outputDir: string): TrainerConfig {
  const report = v.listOf('report_to', REPORT_TO_VALUES);
  const loggingSteps = v.number('logging_steps');
  const resume = v.stringOrNull('resume_from_checkpoint');
  return {
    outputDir,
    numTrainEpochs: v.number('num_train_epochs'),
    maxSteps: v.number('max_steps'),
    gradientAccumulationSteps: v.number('gradient_accumulation_steps'),
    learningRate: v.number('learning_rate'),
    lrSchedulerType: v.oneOf('lr_scheduler_type', SCHEDULE_TYPES),
    warmupRatio: v.number('warmup_ratio'),
    warmupSteps: v.number('warmup_steps'),
    optim: v.oneOf('optim', OPTIM_NAMES),
    weightDecay: v.number('weight_decay'),
    adamBeta1: v.number('adam_beta1'),
    adamBeta2: v.number('adam_beta2'),
    adamEpsilon: v.number('adam_epsilon'),
    momentum: v.number('momentum'),
    maxGradNorm: v.number('max_grad_norm'),
    loggingSteps: v.oneOf('logging_strategy', STRATEGIES) === 'steps' ? loggingSteps : Number.MAX_SAFE_INTEGER,
    evalStrategy: v.oneOf('evaluation_strategy', STRATEGIES),
    evalAtEnd: v.boolean('do_eval'),
    evalSteps: v.numberOrNull('eval_steps') ?? loggingSteps,
    saveStrategy: v.oneOf('save_strategy', STRATEGIES),
    saveSteps: v.number('save_steps'),
    saveTotalLimit: v.numberOrNull('save_total_limit'),
    seed: v.number('seed'),
    bf16: resolveBf16(v.booleanOrAuto('bf16'), v.oneOfOrNull('torch_dtype', TORCH_DTYPES), checkDeviceSetting(v.string('device'), 'device')),
    gradientCheckpointing: v.boolean('gradient_checkpointing'),
    selectedLayers: v.boolean('use_selective') ? v.strings('selected_layers') : null,
    reportTo: report.includes('all') ? ['tensorboard'] : report,
    resumeFromCheckpoint: resume ?? undefined,
    runConfig: runIdentity(v.recipe),
    resumeIgnoredKeys: [...RESUME_IGNORED_KEYS],
    console: v.boolean('disable_tqdm') ? 'lines' : 'auto',
    loggingFirstStep: v.boolean('logging_first_step'),
    runName: v.stringOrNull('run_name'),
  };
}
