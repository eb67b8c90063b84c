// A recipe resolved ONCE into the typed settings of a run, with every cross-key check: recipe file -> Recipe
// (loadRecipe: each key checked alone) -> RunSettings (resolveSettings: keys combined and checked together) -> run.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isTestSplitSize } from '../data/mixer.js';
import type { TokenizeMode } from '../data/tokenize.js';
import { checkPreferenceOptions, type LossType } from '../losses/preference.js';
import { lossNames } from '../losses/registry.js';
import { CONTENT_SPECIAL_TOKENS, type ContentSpecialTokens } from '../io/content-guard.js';
import { TOKENIZER_BACKENDS, type TokenizerBackend } from '../io/rust-tokenizer.js';
import type { DType } from '../tensor/dtype.js';
import { checkDeviceSetting, type DeviceSetting } from '../tensor/device.js';
import type { AttentionImplementation } from '../models/llama.js';
import type { TrainerConfig } from '../train/trainer.js';
import { dataSettings, type DataSettings } from './data-settings.js';
import { KEY_INDEX } from './recipe-keys.js';
import { RecipeError, type Recipe } from './recipe.js';
import { TORCH_DTYPES, trainerConfig } from './trainer-config.js';
import { resolveBf16 } from '../train/bf16-probe.js';
import { REPORT_TO_VALUES, reportToWarnings } from './report-to.js';
import { RecipeValues } from './values.js';

/** What a run trains: supervised fine-tuning or a preference loss. */
export type RunTask = 'sft' | 'preference';
/** Where the reference log-probs of a preference run come from. */
export type ReferenceKind = 'copy' | 'precomputed' | 'adapter';

export interface ModelSettings {
  /** model_name_or_path (its existence is checked by prepare, not here). */
  path: string;
  /** model_revision: the branch, tag or commit when path is a repo id read from the Hugging Face cache. */
  revision: string;
  /** bfloat16 with bf16: true (or auto where bfloat16 pays, see bf16-probe.ts), else torch_dtype (null: float32). */
  dtype: DType | 'auto';
  /** tokenizer_name_or_path, or the model folder. */
  tokenizerPath: string;
  chatTemplate: string | null;
  /** How special-token strings inside message content tokenize (content_special_tokens). */
  contentSpecialTokens: ContentSpecialTokens;
  /** attn_implementation: the attention kernel (auto: sdpa when libtorch has it). */
  attention: AttentionImplementation;
}

export interface TokenizeSettings {
  mode: TokenizeMode;
  /** Preference: longest prompt + response; longest prompt kept. */
  maxLength: number;
  maxPromptLength: number;
  /** SFT: longest conversation. */
  maxSeqLength: number;
  assistantOnlyLoss: boolean;
  /** SFT: pack conversations into blocks of maxSeqLength tokens (the loss on every token). */
  packing: boolean;
  /** tokenizer_backend: which implementation encodes the data (the ids are the same). */
  backend: TokenizerBackend;
  /** tokenizer_check_texts: how many of the run's first texts are compared with the JavaScript tokenizer's ids. */
  checkTexts: number;
}

export interface LossSettings {
  type: LossType;
  beta: number;
  b1: number;
  alpha: number;
  labelSmoothing: number;
  averageLogps: boolean;
}

export interface ReferenceSettings { strategy: ReferenceKind; cacheDir: string }

/** The tokenized-data cache: tokenized_cache, and tokenized_cache_dir (else $XDG_CACHE_HOME/bfpo/tokenized). */
export interface TokenizedCacheSettings { enabled: boolean; dir: string }

export interface LoraSettings { r: number; alpha: number; dropout: number; targetModules: string[]; save: 'adapter' | 'merged' }

/** Everything a run reads from its recipe, typed and checked. */
export interface RunSettings {
  task: RunTask;
  model: ModelSettings;
  data: DataSettings;
  tokenize: TokenizeSettings;
  tokenizedCache: TokenizedCacheSettings;
  /** Pairs (or conversations) per training micro-batch and per evaluation batch. */
  batch: { train: number; eval: number; groupByLength: boolean };
  /** Optimizer, schedule, logging, evaluation, saving, seed, layer selection (use_selective) and the run identity. */
  trainer: TrainerConfig;
  /** The preference loss; null for sft (whose recipe may carry loss keys it does not use). */
  loss: LossSettings | null;
  reference: ReferenceSettings;
  /** The LoRA adapters; null without use_peft. */
  lora: LoraSettings | null;
  /** padding_free: Llama-family models get padding-free, prompt-sharing batches (model.paddingFree). */
  paddingFree: boolean;
  /** With a buffer: log its metrics into the main batch's keys, as the original. */
  originalMetrics: boolean;
  /** false: evaluate the starting model only. */
  doTrain: boolean;
  /** device: where the run computes (auto is resolved when the run starts, see resolveDevice). */
  device: DeviceSetting;
  /** Keys given a value that has no effect here, one line each for the console. */
  notes: string[];
  /** The recipe these settings were resolved from (its values go into the model card). */
  recipe: Recipe;
}

/** The LoRA targets when lora_target_modules is null. */
export const DEFAULT_LORA_TARGETS: readonly string[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

function need(v: RecipeValues, key: string, what: string): string {
  const s = v.stringOrNull(key);
  if (s === null || s === '') throw new RecipeError(`The recipe must set ${key} (${what}); ${KEY_INDEX.get(key)?.doc ?? ''}`.trim());
  return s;
}

/** The checks that concern several keys (each key alone was checked by loadRecipe); throws RecipeError. */
function checkCrossKeys(v: RecipeValues, task: RunTask): void {
  need(v, 'model_name_or_path', 'the model folder to start from');
  need(v, 'output_dir', 'where checkpoints and the final model go');
  if (!v.mixerOrNull('dataset_mixer')) throw new RecipeError('The recipe must set dataset_mixer (datasets and fractions, e.g. {data/PKU-SafeRLHF: 1.0})');
  if (v.number('tokenizer_check_texts') < 0) throw new RecipeError(`tokenizer_check_texts must be 0 or more, not ${v.number('tokenizer_check_texts')}`);
  if (v.boolean('fp16')) throw new RecipeError('fp16 is not supported (float16 training needs loss scaling); set bf16: true instead');
  const useBuffer = v.boolean('use_buffer');
  if (useBuffer && !v.mixerOrNull('buffer_dataset_mixer')) throw new RecipeError('use_buffer is true but buffer_dataset_mixer is not set');
  if (useBuffer && task === 'sft') throw new RecipeError('use_buffer applies to preference training (bfpo train), not to sft');
  if (v.boolean('use_peft') && v.boolean('use_selective')) throw new RecipeError('use_peft and use_selective both choose what trains; set only one of them');
  if (v.oneOf('reference_strategy', REFERENCE_KINDS) === 'adapter' && !v.boolean('use_peft')) {
    throw new RecipeError('reference_strategy adapter needs use_peft: true (it disables the LoRA adapters); use copy or precomputed');
  }
  const split = v.numberOrNull('test_split_size');
  if (split !== null && !isTestSplitSize(split)) {
    throw new RecipeError(`test_split_size must be a fraction between 0 and 1 or a whole number of rows (≥ 1), not ${split}`);
  }
  if (v.boolean('packing') && task === 'preference') throw new RecipeError('packing applies to sft; preference pairs are never packed');
  const maxLength = v.number('max_length');
  const maxPrompt = v.number('max_prompt_length');
  if (maxPrompt >= maxLength) throw new RecipeError(`max_prompt_length (${maxPrompt}) must be smaller than max_length (${maxLength})`);
}

const REFERENCE_KINDS: readonly ReferenceKind[] = ['copy', 'precomputed', 'adapter'];

/** The loss type and hyper-parameters, checked (beta > 0, b1 > 1, label smoothing) as the loss itself checks them. */
function lossSettings(v: RecipeValues): LossSettings {
  // Every registered loss, built-in or added with registerLoss, is passed by name (as LossType, as the step takes it).
  const type = v.oneOf('loss_type', lossNames() as LossType[]);
  try {
    const o = checkPreferenceOptions(type, { beta: v.number('beta'), b1: v.number('b1'), alpha: v.number('alpha'), labelSmoothing: v.number('label_smoothing') });
    return { type, beta: o.beta, b1: o.b1, alpha: o.alpha, labelSmoothing: o.labelSmoothing, averageLogps: v.boolean('average_log_prob') };
  } catch (e) {
    throw new RecipeError((e as Error).message);
  }
}

/** precompute_ref_log_probs wins; with use_peft and no explicit reference_strategy, the adapter-disabled model. */
function referenceSettings(v: RecipeValues): ReferenceSettings {
  const strategy: ReferenceKind = v.boolean('precompute_ref_log_probs') ? 'precomputed'
    : v.boolean('use_peft') && !v.isSet('reference_strategy') ? 'adapter'
      : v.oneOf('reference_strategy', REFERENCE_KINDS);
  const cacheDir = v.stringOrNull('reference_cache_dir') ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bfpo', 'reference-logps');
  return { strategy, cacheDir };
}

function loraSettings(v: RecipeValues): LoraSettings | null {
  if (!v.boolean('use_peft')) return null;
  return {
    r: v.number('lora_r'), alpha: v.number('lora_alpha'), dropout: v.number('lora_dropout'),
    targetModules: v.stringsOrNull('lora_target_modules') ?? [...DEFAULT_LORA_TARGETS], save: v.oneOf('lora_save', ['adapter', 'merged']),
  };
}

function notes(v: RecipeValues): string[] {
  const out: string[] = [];
  if (v.boolean('push_to_hub')) out.push('push_to_hub has no effect: nothing is uploaded; the model stays in output_dir');
  out.push(...reportToWarnings(v.listOf('report_to', REPORT_TO_VALUES), v.stringOrNull('output_dir') ?? 'output_dir'));
  return out;
}

/**
 * Resolves a loaded recipe into the typed settings of a `task` run, running every cross-key check and the loss
 * checks, so that a bad recipe fails before any model or data is read. Reads no file (paths are checked by prepare).
 * To add a key: declare it in recipe-keys.ts, add its field to RunSettings (or a section of it) and read it here
 * with the RecipeValues reader of its type.
 * @example const s = resolveSettings(loadRecipe('recipes/bfpo.yaml'), 'preference'); s.loss?.beta // 0.01
 */
export function resolveSettings(recipe: Recipe, task: RunTask): RunSettings {
  const v = new RecipeValues(recipe);
  checkCrossKeys(v, task);
  const loss = task === 'preference' ? lossSettings(v) : null;
  const path = need(v, 'model_name_or_path', 'the model folder to start from');
  return {
    task,
    model: {
      path,
      dtype: resolveBf16(v.booleanOrAuto('bf16'), v.oneOfOrNull('torch_dtype', TORCH_DTYPES), checkDeviceSetting(v.string('device'), 'device')) ? 'bfloat16' : v.oneOfOrNull('torch_dtype', TORCH_DTYPES) ?? 'float32',
      revision: v.string('model_revision'),
      tokenizerPath: v.stringOrNull('tokenizer_name_or_path') ?? path,
      chatTemplate: v.stringOrNull('chat_template'),
      contentSpecialTokens: v.oneOf('content_special_tokens', CONTENT_SPECIAL_TOKENS),
      attention: v.oneOf('attn_implementation', ['auto', 'eager', 'sdpa']),
    },
    data: dataSettings(v),
    tokenize: {
      mode: v.oneOf('tokenization', ['clean', 'trl-0.7']),
      maxLength: v.number('max_length'),
      maxPromptLength: v.number('max_prompt_length'),
      maxSeqLength: v.number('max_seq_length'),
      assistantOnlyLoss: v.boolean('assistant_only_loss'),
      packing: v.boolean('packing'),
      backend: v.oneOf('tokenizer_backend', TOKENIZER_BACKENDS),
      checkTexts: v.number('tokenizer_check_texts'),
    },
    tokenizedCache: {
      enabled: v.boolean('tokenized_cache'),
      dir: v.stringOrNull('tokenized_cache_dir') ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bfpo', 'tokenized'),
    },
    batch: { train: v.number('per_device_train_batch_size'), eval: v.number('per_device_eval_batch_size'), groupByLength: v.boolean('group_by_length') },
    trainer: trainerConfig(v, need(v, 'output_dir', 'where checkpoints and the final model go')),
    loss,
    reference: referenceSettings(v),
    lora: loraSettings(v),
    paddingFree: v.boolean('padding_free'),
    originalMetrics: v.boolean('original_metrics'),
    doTrain: v.boolean('do_train'),
    device: checkDeviceSetting(v.string('device'), 'device'),
    notes: notes(v),
    recipe,
  };
}
