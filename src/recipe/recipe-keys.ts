// Every recipe key in ONE table: type, default, allowed values and a one-line doc. Recipe parsing, `--help` and
// the key table of docs/training.md all come from here; the loss, schedule and optimizer names, defaults and the
// docs of the keys they read come from their registries.
import { LOSS_PARAMS, type LossParamName } from '../losses/loss-spec.js';
import { DEFAULT_LOSS, lossNames, LOSSES } from '../losses/registry.js';
import { OPTIMIZERS, OPTIM_NAMES, type OptimizerSpec, type OptimName } from '../train/optimizers.js';
import { SCHEDULES, SCHEDULE_TYPES, type ScheduleType } from '../train/schedule.js';
import { REPORT_TO_VALUES } from './report-to.js';
import { DEVICE_SETTING_PATTERN } from '../tensor/device.js';

/** The value types a key can hold. */
export type KeyType =
  | 'string' | 'number' | 'integer' | 'boolean' | 'boolean-auto' | 'enum' | 'string-list' | 'enum-list' | 'mixer' | 'object';

export type KeyGroup = 'model' | 'data' | 'training' | 'preference' | 'accepted';

export interface KeySpec {
  key: string;
  type: KeyType;
  group: KeyGroup;
  default: unknown;
  /** Allowed values of 'enum' and 'enum-list' keys. */
  values?: readonly (string | null)[];
  /** null is allowed (YAML `null`, `None`, or an empty value). */
  nullable?: boolean;
  doc: string;
  /** Another name of this key; both are accepted, giving both is an error. */
  aliasOf?: string;
  /** A 'string' key's form: a regular expression source its values must match, and how messages describe it. */
  pattern?: { source: string; describe: string };
}

const k = (key: string, type: KeyType, group: KeyGroup, dflt: unknown, doc: string, extra: Partial<KeySpec> = {}): KeySpec =>
  ({ key, type, group, default: dflt, doc, ...extra });
const NO_EFFECT = 'Accepted so the original recipes load; has no effect here.';

/** " (read by a, b)" naming the built-in losses that read a loss hyper-parameter. */
const lossReaders = (p: LossParamName): string =>
  ` Read by loss_type ${Object.values(LOSSES).filter((l) => l.params[p]).map((l) => l.name).join(', ')}.`;
/** A loss hyper-parameter's key: its default and doc from the loss registry. */
const lossParamKey = (p: LossParamName): KeySpec =>
  k(LOSS_PARAMS[p].key, 'number', 'preference', LOSS_PARAMS[p].default, LOSS_PARAMS[p].doc + lossReaders(p));
/** " (read by a, b)" naming the optimizers that read a recipe key. */
const optimReaders = (key: string): string =>
  ` Read by optim ${Object.entries(OPTIMIZERS as Record<string, OptimizerSpec>).filter(([, o]) => o.reads.includes(key)).map(([n]) => n).join(', ')}.`;
const OPTIM_DOC = 'Optimizer: ' + Object.entries(OPTIMIZERS as Record<string, OptimizerSpec>)
  .map(([n, o]) => `${n}: ${o.aliasOf ? `another name of ${o.aliasOf}` : o.doc}`).join('; ') + '.';
const SCHEDULE_DOC = 'Learning-rate schedule (warmup is linear from 0): ' + Object.entries(SCHEDULES).map(([n, sc]) => `${n}: \`${sc.doc}\``).join('; ') + '.';
const LOSS_DOC = 'Preference loss over h = lc - lr, lc and lr the chosen and rejected log-ratios of policy to reference: ' +
  Object.values(LOSSES).map((l) => `${l.name}: \`${l.doc}\``).join('; ') + '.';
const DEFAULT_SCHEDULE: ScheduleType = 'linear';
const DEFAULT_OPTIM: OptimName = 'adamw_torch';

/** The loss_type key; its values are read from the loss registry each time, so a loss registered later is allowed. */
function lossTypeKey(): KeySpec {
  const spec = k('loss_type', 'enum', 'preference', DEFAULT_LOSS, LOSS_DOC);
  Object.defineProperty(spec, 'values', { get: () => lossNames(), enumerable: true });
  return spec;
}

export const RECIPE_KEYS: readonly KeySpec[] = [
  // ------------------------------------------------------------------------------------------------ model
  k('model_name_or_path', 'string', 'model', null, 'Hugging Face model folder (config.json, *.safetensors, tokenizer.json) to start from: a local path, or a repo id (org/name) found in the Hugging Face cache.', { nullable: true }),
  k('torch_dtype', 'enum', 'model', null, 'Dtype to load the weights in; null loads float32, auto keeps config.json\'s torch_dtype; bf16: true loads bfloat16.', { values: ['auto', 'bfloat16', 'float16', 'float32', null], nullable: true }),
  k('tokenizer_name_or_path', 'string', 'model', null, 'Folder of tokenizer.json when it is not the model folder.', { nullable: true }),
  k('chat_template', 'string', 'model', null, 'A Jinja chat template that replaces the tokenizer\'s own.', { nullable: true }),
  k('content_special_tokens', 'enum', 'model', 'text', 'How special-token strings inside message content (</s>, <|im_end|>, a role header) tokenize: text keeps them plain text so data cannot end or forge a turn; special parses them as the special tokens (the permissive behaviour of most tools).', { values: ['text', 'special'] }),
  k('use_peft', 'boolean', 'model', false, 'Train LoRA adapters instead of the weights themselves.'),
  k('lora_r', 'integer', 'model', 16, 'LoRA rank.'),
  k('lora_alpha', 'integer', 'model', 32, 'LoRA scaling numerator (the update is scaled by lora_alpha / lora_r).'),
  k('lora_dropout', 'number', 'model', 0.05, 'Dropout on the LoRA input.'),
  k('lora_target_modules', 'string-list', 'model', null, 'Linear layers that get LoRA adapters (null: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj).', { nullable: true }),
  k('lora_save', 'enum', 'model', 'adapter', 'How the final LoRA model is saved: adapter (PEFT layout: adapter_model.safetensors + adapter_config.json) or merged (a full model folder).', { values: ['adapter', 'merged'] }),
  k('model_revision', 'string', 'model', 'main', 'The branch, tag or commit of a model_name_or_path repo id read from the Hugging Face cache (HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub); never downloaded.'),
  k('attn_implementation', 'enum', 'model', 'auto', 'Attention kernel: sdpa is libtorch\'s scaled_dot_product_attention (flash / memory-efficient kernels on CUDA; libtorch 2.0 or newer), eager the plain products with a float32 softmax; auto takes sdpa when this libtorch has it, else eager.', { values: ['auto', 'eager', 'sdpa'] }),
  k('use_flash_attention_2', 'boolean', 'accepted', false, NO_EFFECT + ' Attention uses libtorch kernels (see attn_implementation).'),
  k('trust_remote_code', 'boolean', 'accepted', false, NO_EFFECT + ' No remote code is ever run.'),
  // ------------------------------------------------------------------------------------------------ data
  k('dataset_mixer', 'mixer', 'data', null, 'Datasets (local folders or files) and the fraction of each train split to take.', { nullable: true }),
  k('dataset_splits', 'string-list', 'data', ['train', 'test'], 'Split names: the first trains, the ones with "test" in their name evaluate.'),
  k('test_split_size', 'number', 'data', null, 'For a dataset with no test split of its own (a single data file): hold this fraction (0 to 1) or number of its rows out as the test split, picked with the seed; they never train.', { nullable: true }),
  k('other_data_config', 'string', 'data', null, 'A second YAML whose data keys override this recipe\'s (path relative to the recipe).', { nullable: true }),
  k('use_buffer', 'boolean', 'data', false, 'Add a buffer batch from buffer_dataset_mixer to every micro-step (BFPO\'s helpfulness buffer).'),
  k('buffer_dataset_mixer', 'mixer', 'data', null, 'Datasets of the buffer data, as dataset_mixer.', { nullable: true }),
  k('buffer_dataset_splits', 'string-list', 'data', ['train', 'test'], 'Split names of the buffer data.'),
  k('max_length', 'integer', 'data', 1024, 'Preference training: longest prompt + response in tokens.'),
  k('max_prompt_length', 'integer', 'data', 512, 'Preference training: longest prompt kept (its end) when a pair is too long.'),
  k('max_seq_length', 'integer', 'data', 2048, 'SFT: longest conversation in tokens.'),
  k('tokenization', 'enum', 'data', 'clean', 'clean: one end-of-turn token, the assistant header in the prompt; trl-0.7: the original\'s exact sequences (BOS, double EOS, header in the completion; SFT learns every token).', { values: ['clean', 'trl-0.7'] }),
  k('assistant_only_loss', 'boolean', 'data', true, 'SFT without packing: take the loss on assistant tokens only (false: on every token).'),
  k('packing', 'boolean', 'data', false, 'SFT: the original\'s packing: BOS + chat text + EOS per conversation, concatenated and cut into blocks of max_seq_length tokens, the loss on every token (the tail after the last full block is dropped).'),
  k('skip_invalid', 'boolean', 'data', false, 'Skip rows with an empty prompt or response (or any other bad field) and report them per dataset with their first row numbers, instead of stopping with an error that names file, row and field.'),
  k('mixer_seed', 'integer', 'data', null, 'Seed of the mixer\'s shuffle of the datasets (null: seed). The original always shuffled with 42.', { nullable: true }),
  k('tokenizer_backend', 'enum', 'data', 'auto', 'Which implementation tokenizes the data: auto uses bfpo\'s native encoder (BPE: Llama 2, Mistral, Llama 3, Qwen and GPT-2-style files) or else Hugging Face\'s Rust tokenizers library (the optional npm package tokenizers), the first that covers the tokenizer and gives bfpo\'s ids on a probe corpus and on the run\'s first texts, else bfpo\'s JavaScript tokenizer; js always the JavaScript one; native or rust requires that one (an error where it is missing, does not cover the tokenizer or differs). The environment variable BFPO_TOKENIZER_BACKEND overrides it. The ids, and so the cache, are the same either way.', { values: ['auto', 'native', 'rust', 'js'] }),
  k('tokenizer_check_texts', 'integer', 'data', 64, 'How many of the run\'s first texts the native or Rust encoder chosen by tokenizer_backend also has encoded by bfpo\'s JavaScript tokenizer, the ids compared (after the probe corpus, which every encoder must pass first); a difference switches to the JavaScript tokenizer (auto) or stops the run (native, rust). 0 compares the probe corpus only. Each compared text costs about as much as encoding 20 with the native encoder.'),
  k('tokenized_cache', 'boolean', 'data', true, 'Cache the tokenized data (train, sft, logps and prepare share it), keyed by the data files\' sha256, the tokenizer files and every setting that changes the tokens; false: tokenize every run.'),
  k('tokenized_cache_dir', 'string', 'data', null, 'Folder of the tokenized-data cache (null: $XDG_CACHE_HOME/bfpo/tokenized, else ~/.cache/bfpo/tokenized).', { nullable: true }),
  k('preprocessing_num_workers', 'integer', 'accepted', 8, NO_EFFECT + ' Tokenization runs in-process.'),
  // ------------------------------------------------------------------------------------------------ training
  k('output_dir', 'string', 'training', null, 'Where checkpoints, logs and the final model go.', { nullable: true }),
  k('num_train_epochs', 'number', 'training', 3, 'Epochs over the (main) training data.'),
  k('max_steps', 'integer', 'training', -1, 'When > 0, the number of optimizer steps (overrides num_train_epochs).'),
  k('per_device_train_batch_size', 'integer', 'training', 8, 'Pairs (or conversations) per micro-batch.'),
  k('per_device_eval_batch_size', 'integer', 'training', 8, 'Pairs (or conversations) per evaluation batch.'),
  k('gradient_accumulation_steps', 'integer', 'training', 1, 'Micro-batches per optimizer step.'),
  k('learning_rate', 'number', 'training', 5e-5, 'Peak learning rate.'),
  k('lr_scheduler_type', 'enum', 'training', DEFAULT_SCHEDULE, SCHEDULE_DOC, { values: [...SCHEDULE_TYPES] }),
  k('warmup_ratio', 'number', 'training', 0, 'Warmup as a fraction of all steps (ceil), used when warmup_steps is 0.'),
  k('warmup_steps', 'integer', 'training', 0, 'Warmup steps (overrides warmup_ratio when > 0).'),
  k('optim', 'enum', 'training', DEFAULT_OPTIM, OPTIM_DOC, { values: [...OPTIM_NAMES] }),
  k('weight_decay', 'number', 'training', 0, 'Weight decay (decoupled for AdamW).' + optimReaders('weight_decay')),
  k('adam_beta1', 'number', 'training', 0.9, 'Adam beta1.' + optimReaders('adam_beta1')),
  k('adam_beta2', 'number', 'training', 0.999, 'Adam beta2.' + optimReaders('adam_beta2')),
  k('adam_epsilon', 'number', 'training', 1e-8, 'Epsilon of the update\'s denominator.' + optimReaders('adam_epsilon')),
  k('momentum', 'number', 'training', 0, 'Momentum.' + optimReaders('momentum')),
  k('max_grad_norm', 'number', 'training', 1, 'Clip the global gradient norm to this; 0 disables clipping.'),
  k('device', 'string', 'training', 'auto', 'Where the run computes: auto (the first CUDA device when this libtorch has CUDA and a GPU is visible, else the CPU), cpu, cuda or cuda:N. Parameters, optimizer state, the reference model or its log-prob tables, batches and the random generator live there; a CUDA device that cannot be used stops the run at once, saying why (docs/gpu.md).', { pattern: { source: DEVICE_SETTING_PATTERN, describe: 'one of auto, cpu, cuda, cuda:N (N a device index)' } }),
  k('bf16', 'boolean-auto', 'training', 'auto', 'Compute in bfloat16 with fp32 master weights (loss, log-softmax and metrics stay float32). auto: where a bfloat16 matrix product runs >= 1.3x as fast as a float32 one (measured once per machine, cached; `bfpo env` shows it; on a CUDA device timed on the device) and torch_dtype is null; true/false force it.'),
  k('ddp_bucket_cap_mb', 'number', 'training', 25, 'With several ranks: the largest gradient bucket, in MiB (one collective each). Without sharding each bucket is all-reduced during the backward pass as soon as its gradients are written (BFPO_OVERLAP_GRAD_REDUCE=0 waits for the end of the backward); with sharding: optimizer the buckets are reduce-scattered after it.'),
  k('sharding', 'enum', 'training', 'none', 'With several ranks (--nproc_per_node): none keeps the optimizer state and gradients on every rank; optimizer splits them over the ranks (ZeRO-2: gradients are reduce-scattered to their owners, each rank updates its own parameters, then they are broadcast; each rank writes its slice into checkpoints as its own shard); full splits the parameters too (ZeRO-3 / FSDP: each layer is gathered from its owners while it runs; needs gradient_checkpointing; a reference copy is sharded too, reference_strategy adapter is refused). No effect in one process.', { values: ['none', 'optimizer', 'full'] }),
  k('fp16', 'boolean', 'training', false, 'float16 mixed precision is not supported; true is refused (use bf16).'),
  k('gradient_checkpointing', 'boolean', 'training', false, 'Keep only each decoder layer\'s input and recompute the layer in the backward pass: activation memory of one layer instead of all, for about one more forward per step.'),
  k('gradient_checkpointing_kwargs', 'object', 'training', null, 'Accepted for compatibility ({use_reentrant: false} is what bfpo always does).', { nullable: true }),
  k('use_selective', 'boolean', 'training', false, 'Train only the parameters whose name contains one of selected_layers.'),
  k('selected_layers', 'string-list', 'training', ['down_proj'], 'Name fragments of the trainable parameters when use_selective is true.'),
  k('padding_free', 'boolean', 'training', true, 'Padding-free batches: the real tokens of a batch back to back in one sequence, each pair\'s prompt computed once with both answers attending to it (Llama-family models; same loss and gradients as padded batches to float tolerance, fewer FLOPs). false: padded [2 x batch, longest row] batches. logits/chosen and logits/rejected then average real tokens only.'),
  k('group_by_length', 'boolean', 'training', true, 'Batch examples of similar length together (less padding); false: plain random batches, the original\'s sampler.'),
  k('other_data_config_wins', 'boolean', 'training', false, 'false: --key=value overrides other_data_config; true: other_data_config overrides --key=value, as the original\'s parser did.'),
  k('seed', 'integer', 'training', 42, 'Seed of initialisation, dropout and data order; the same seed repeats a run.'),
  k('do_train', 'boolean', 'training', true, 'Train; false only evaluates the starting model on the test split (eval_results.json).'),
  k('do_eval', 'boolean', 'training', false, 'Evaluate on the test split at the end of training (evaluation_strategy adds evaluations during it).'),
  k('evaluation_strategy', 'enum', 'training', 'no', 'When to evaluate: no, every eval_steps, or every epoch.', { values: ['no', 'steps', 'epoch'] }),
  k('eval_strategy', 'enum', 'training', 'no', 'Newer name of evaluation_strategy.', { values: ['no', 'steps', 'epoch'], aliasOf: 'evaluation_strategy' }),
  k('eval_steps', 'integer', 'training', null, 'Evaluate every this many optimizer steps (null: logging_steps).', { nullable: true }),
  k('logging_steps', 'integer', 'training', 500, 'Log the averaged metrics every this many optimizer steps.'),
  k('logging_strategy', 'enum', 'training', 'steps', 'steps logs every logging_steps; no and epoch log only after the last step.', { values: ['no', 'steps', 'epoch'] }),
  k('logging_first_step', 'boolean', 'training', false, 'Also log after the first step.'),
  k('report_to', 'enum-list', 'training', ['tensorboard'], 'tensorboard writes event files under output_dir/runs (log.jsonl is always written); the other trackers of transformers are accepted with a warning saying what is logged instead and how to import it.', { values: REPORT_TO_VALUES }),
  k('disable_tqdm', 'boolean', 'training', false, 'No progress bar (it is also off when stderr is not a terminal).'),
  k('save_strategy', 'enum', 'training', 'steps', 'When to save checkpoints; steps and epoch also save one at the end, no saves one only when a signal stops the run (and at the end of a run resumed from it).', { values: ['no', 'steps', 'epoch'] }),
  k('save_steps', 'integer', 'training', 500, 'Save a checkpoint every this many optimizer steps.'),
  k('save_total_limit', 'integer', 'training', null, 'Keep only this many newest checkpoints.', { nullable: true }),
  k('resume_from_checkpoint', 'string', 'training', null, 'Resume from this checkpoint folder (default: the last one in output_dir).', { nullable: true }),
  k('run_name', 'string', 'training', null, 'A name shown on the console and written to train_results.json.', { nullable: true }),
  k('overwrite_output_dir', 'boolean', 'accepted', false, NO_EFFECT + ' A folder with another run\'s checkpoints is refused; choose a new output_dir.'),
  k('log_level', 'string', 'accepted', 'passive', NO_EFFECT),
  k('logging_dir', 'string', 'accepted', null, NO_EFFECT + ' TensorBoard files go to output_dir/runs.', { nullable: true }),
  k('remove_unused_columns', 'boolean', 'accepted', true, NO_EFFECT),
  k('push_to_hub', 'boolean', 'accepted', false, NO_EFFECT + ' Nothing is uploaded.'),
  k('hub_model_id', 'string', 'accepted', null, NO_EFFECT, { nullable: true }),
  k('hub_strategy', 'string', 'accepted', 'every_save', NO_EFFECT),
  k('hub_token', 'string', 'accepted', null, NO_EFFECT, { nullable: true }),
  // ------------------------------------------------------------------------------------------------ preference
  lossTypeKey(),
  lossParamKey('beta'),
  lossParamKey('b1'),
  lossParamKey('alpha'),
  lossParamKey('labelSmoothing'),
  k('average_log_prob', 'boolean', 'preference', false, 'Average log-probs over completion tokens instead of summing (not BFPO\'s convention).'),
  k('original_metrics', 'boolean', 'preference', false, 'With a buffer: log the buffer batches\' metrics averaged into the same rewards/*, logps/* and logits/* keys as the main batch, as the original (false: separate buffer/* keys and main/loss).'),
  k('reference_strategy', 'enum', 'preference', 'copy', 'copy: a frozen copy of the starting model; precomputed: log-probs computed once and cached on disk; adapter: the model with its LoRA adapters disabled (the default when use_peft is true).', { values: ['copy', 'precomputed', 'adapter'] }),
  k('precompute_ref_log_probs', 'boolean', 'preference', false, 'true is the same as reference_strategy: precomputed.'),
  k('reference_cache_dir', 'string', 'preference', null, 'Folder of cached reference log-probs (null: ~/.cache/bfpo/reference-logps).', { nullable: true }),
];

export const KEY_INDEX: ReadonlyMap<string, KeySpec> = new Map(RECIPE_KEYS.map((s) => [s.key, s]));

/** The finer sections `bfpo train --help` and `bfpo sft --help` list the keys in, in this order, with their titles. */
export const KEY_SECTIONS = [
  ['model', 'Model'], ['data', 'Data'], ['training', 'Training'], ['loss', 'Loss'], ['reference', 'Reference model'],
  ['lora', 'LoRA'], ['logging', 'Logging'], ['checkpoints', 'Checkpoints and output'],
] as const;
export type KeySection = (typeof KEY_SECTIONS)[number][0];

const SECTION_OF: Readonly<Record<string, KeySection>> = {
  use_peft: 'lora', lora_r: 'lora', lora_alpha: 'lora', lora_dropout: 'lora', lora_target_modules: 'lora', lora_save: 'lora',
  reference_strategy: 'reference', precompute_ref_log_probs: 'reference', reference_cache_dir: 'reference',
  logging_steps: 'logging', logging_strategy: 'logging', logging_first_step: 'logging', report_to: 'logging',
  disable_tqdm: 'logging', run_name: 'logging',
  output_dir: 'checkpoints', save_strategy: 'checkpoints', save_steps: 'checkpoints', save_total_limit: 'checkpoints',
  resume_from_checkpoint: 'checkpoints',
};

/**
 * The help section of a key that has an effect: LoRA, reference, logging and checkpoint keys by name, the other
 * preference keys under loss, the rest under their group. Accepted keys without effect have none (null).
 */
export function keySection(s: KeySpec): KeySection | null {
  if (s.group === 'accepted') return null;
  return SECTION_OF[s.key] ?? (s.group === 'preference' ? 'loss' : s.group);
}

/** The default of a key as shown in docs and help. */
export function showDefault(s: KeySpec): string {
  return s.default === null ? 'null' : JSON.stringify(s.default);
}

/** The type and allowed values of a key, for messages and docs. */
export function describeType(s: KeySpec): string {
  const vals = (s.values ?? []).map((v) => (v === null ? 'null' : v)).join(', ');
  switch (s.type) {
    case 'enum': return `one of ${vals}`;
    case 'enum-list': return `a list of ${vals}`;
    case 'string-list': return 'a list of strings';
    case 'mixer': return 'a mapping of dataset to fraction in [0, 1] (0: none of its train rows)';
    case 'integer': return 'an integer';
    case 'number': return 'a number';
    case 'boolean': return 'true or false';
    case 'boolean-auto': return 'true, false or auto';
    case 'object': return 'a mapping';
    default: return s.pattern ? s.pattern.describe : 'a string';
  }
}

/** The Markdown table of every key (docs/training.md embeds it; a test checks it is current). */
export function renderKeyTable(): string {
  const groups: [KeyGroup, string][] = [['model', 'Model'], ['data', 'Data'], ['training', 'Training'], ['preference', 'Preference training'], ['accepted', 'Accepted, no effect']];
  const out: string[] = [];
  for (const [g, title] of groups) {
    out.push(`### ${title}`, '', '| key | type | default | what it does |', '| --- | --- | --- | --- |');
    for (const s of RECIPE_KEYS.filter((x) => x.group === g)) {
      out.push(`| \`${s.key}\` | ${describeType(s)}${s.nullable && !s.values?.includes(null) ? ' or null' : ''} | \`${showDefault(s)}\` | ${s.doc.replace(/\|/g, '\\|')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
