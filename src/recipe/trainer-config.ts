// From a resolved recipe to the trainer's configuration, with the cross-key checks a single key cannot make.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TrainerConfig } from '../train/trainer.js';
import type { OptimName } from '../train/optimizers.js';
import type { ScheduleType } from '../train/schedule.js';
import { KEY_INDEX, RECIPE_KEYS } from './recipe-keys.js';
import { RecipeError, type Recipe } from './recipe.js';
import { isTestSplitSize } from '../data/mixer.js';
import { checkPreferenceOptions, type LossType, type PreferenceOptions } from '../losses/preference.js';

/** Keys that may change between a run and its resumption: they do not change the trained weights. */
export const RESUME_IGNORED_KEYS: readonly string[] = [
  'output_dir', 'resume_from_checkpoint', 'logging_steps', 'logging_strategy', 'logging_first_step', 'report_to',
  'disable_tqdm', 'run_name', 'do_eval', 'evaluation_strategy', 'eval_steps', 'per_device_eval_batch_size',
  'save_strategy', 'save_steps', 'save_total_limit', 'reference_cache_dir', 'other_data_config', 'other_data_config_wins',
  'original_metrics',
  // Recorded for provenance; the same files may sit at other paths on another machine.
  'data_files',
  // Checkpointing changes memory and time, not the gradients: a run may resume with it switched on or off.
  'gradient_checkpointing', 'gradient_checkpointing_kwargs',
  ...RECIPE_KEYS.filter((s) => s.group === 'accepted').map((s) => s.key),
];

/** The keys that identify a run (stored with each checkpoint and compared on resume). */
export function runIdentity(r: Recipe): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r.values).filter(([k]) => !RESUME_IGNORED_KEYS.includes(k)));
}

function need(r: Recipe, key: string, what: string): string {
  const v = r.values[key];
  if (typeof v !== 'string' || v === '') throw new RecipeError(`The recipe must set ${key} (${what}); ${KEY_INDEX.get(key)?.doc ?? ''}`.trim());
  return v;
}

/** Checks that concern several keys (each key alone was checked when the recipe was read). */
export function checkRecipe(r: Recipe, task: 'sft' | 'preference'): void {
  const v = r.values;
  need(r, 'model_name_or_path', 'the model folder to start from');
  need(r, 'output_dir', 'where checkpoints and the final model go');
  if (!v.dataset_mixer) throw new RecipeError('The recipe must set dataset_mixer (datasets and fractions, e.g. {data/PKU-SafeRLHF: 1.0})');
  if (v.fp16 === true) throw new RecipeError('fp16 is not supported (float16 training needs loss scaling); set bf16: true instead');
  if (v.use_buffer === true && !v.buffer_dataset_mixer) throw new RecipeError('use_buffer is true but buffer_dataset_mixer is not set');
  if (v.use_buffer === true && task === 'sft') throw new RecipeError('use_buffer applies to preference training (bfpo train), not to sft');
  if (v.packing === true && task === 'preference') throw new RecipeError('packing applies to sft; preference pairs are never packed');
  if (v.use_peft === true && v.use_selective === true) throw new RecipeError('use_peft and use_selective both choose what trains; set only one of them');
  if (v.reference_strategy === 'adapter' && v.use_peft !== true) throw new RecipeError('reference_strategy adapter needs use_peft: true (it disables the LoRA adapters); use copy or precomputed');
  if (v.test_split_size !== null && !isTestSplitSize(v.test_split_size)) {
    throw new RecipeError(`test_split_size must be a fraction between 0 and 1 or a whole number of rows (≥ 1), not ${v.test_split_size}`);
  }
  if ((v.max_prompt_length as number) >= (v.max_length as number)) {
    throw new RecipeError(`max_prompt_length (${v.max_prompt_length}) must be smaller than max_length (${v.max_length})`);
  }
  // The loss hyper-parameters, checked here so that a bad one fails before any model or data is read.
  if (task === 'preference') preferenceOptions(r);
}

/** The loss type and hyper-parameters of a preference recipe, checked (beta > 0, b1 > 1, label smoothing). */
export function preferenceOptions(r: Recipe): { lossType: LossType } & Required<PreferenceOptions> {
  const v = r.values;
  const lossType = v.loss_type as LossType;
  try {
    return { lossType, ...checkPreferenceOptions(lossType, { beta: v.beta as number, b1: v.b1 as number, alpha: v.alpha as number, labelSmoothing: v.label_smoothing as number }) };
  } catch (e) {
    throw new RecipeError((e as Error).message);
  }
}

/** The reference strategy after `precompute_ref_log_probs`. */
export function referenceStrategy(r: Recipe): 'copy' | 'precomputed' | 'adapter' {
  if (r.values.precompute_ref_log_probs === true) return 'precomputed';
  if (r.values.use_peft === true && r.setBy.reference_strategy === undefined) return 'adapter';
  return r.values.reference_strategy as 'copy' | 'precomputed' | 'adapter';
}

/** The LoRA settings of a recipe, or null without use_peft. */
export function loraSettings(r: Recipe): { r: number; alpha: number; dropout: number; targetModules: string[] } | null {
  const v = r.values;
  if (v.use_peft !== true) return null;
  const targets = (v.lora_target_modules as string[] | null) ?? ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  return { r: v.lora_r as number, alpha: v.lora_alpha as number, dropout: v.lora_dropout as number, targetModules: targets };
}

export function referenceCacheDir(r: Recipe): string {
  const dir = r.values.reference_cache_dir as string | null;
  return dir ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bfpo', 'reference-logps');
}

/** The trainer configuration a recipe describes. */
export function trainerConfig(r: Recipe): TrainerConfig {
  const v = r.values as Record<string, never>;
  const report = (v.report_to as string[]);
  return {
    outputDir: v.output_dir,
    numTrainEpochs: v.num_train_epochs,
    maxSteps: v.max_steps,
    gradientAccumulationSteps: v.gradient_accumulation_steps,
    learningRate: v.learning_rate,
    lrSchedulerType: v.lr_scheduler_type as ScheduleType,
    warmupRatio: v.warmup_ratio,
    warmupSteps: v.warmup_steps,
    optim: v.optim as OptimName,
    weightDecay: v.weight_decay,
    adamBeta1: v.adam_beta1,
    adamBeta2: v.adam_beta2,
    adamEpsilon: v.adam_epsilon,
    momentum: v.momentum,
    maxGradNorm: v.max_grad_norm,
    loggingSteps: v.logging_strategy === 'steps' ? v.logging_steps : Number.MAX_SAFE_INTEGER,
    evalStrategy: v.evaluation_strategy,
    evalAtEnd: v.do_eval,
    evalSteps: (v.eval_steps as number | null) ?? v.logging_steps,
    saveStrategy: v.save_strategy,
    saveSteps: v.save_steps,
    saveTotalLimit: v.save_total_limit,
    seed: v.seed,
    bf16: v.bf16,
    gradientCheckpointing: v.gradient_checkpointing === true,
    selectedLayers: v.use_selective ? v.selected_layers : null,
    reportTo: report.includes('all') ? ['tensorboard'] : report,
    resumeFromCheckpoint: (v.resume_from_checkpoint as string | null) ?? undefined,
    runConfig: runIdentity(r),
    resumeIgnoredKeys: [...RESUME_IGNORED_KEYS],
    console: v.disable_tqdm ? 'lines' : 'auto',
    loggingFirstStep: v.logging_first_step,
    runName: v.run_name,
  };
}
