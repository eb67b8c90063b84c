// Builds what a recipe describes (model, tokenizer, data sources, reference) and runs the training loop, or only
// the reference log-prob pass (`bfpo logps`).
import { freezeExcept } from '../nn/freeze.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataFileHash } from '../data/file-hash.js';
import { describeCount, mixDatasets } from '../data/mixer.js';
import { packSft } from '../data/pack-sft.js';
import { preparePreferenceData } from '../data/prepare.js';
import type { TokenizeMode } from '../data/tokenize.js';
import { tokenizeSft, type TokenizedSft } from '../data/tokenize-sft.js';
import type { TextTokenizer } from '../data/tokenizer.js';
import { ChatTemplate, ZEPHYR_CHAT_TEMPLATE } from '../io/chat-template.js';
import type { LanguageModel } from '../models/language-model.js';
import { applyLora } from '../nn/lora.js';
import { BfpoError } from '../errors.js';
import { PairPlanSource, SftPlanSource } from '../train/plan-source.js';
import {
  adapterReference, cachedReferenceLogps, frozenReference, modelChecksum, precomputedReference,
  type DataRole, type LogpsTable, type ReferenceStrategy,
} from '../train/reference.js';
import { runEvaluation } from '../train/evaluate.js';
import { train, type ModelStore, type TrainingTask } from '../train/trainer.js';
import { loadTokenizer, missingTemplateWarning, type Tokenizer } from '../io/tokenizer.js';
import { reportToWarnings } from './report-to.js';
import { modelCard, packageVersion, writeModelCard } from './model-card.js';
import { loadPretrained } from '../models/pretrained.js';
import type { DType } from '../tensor/dtype.js';
import { dataSettings } from './data-settings.js';
import { hfModelStore, loraModelStore } from './hf-model.js';
import type { Recipe } from './recipe.js';
import { loraSettings, preferenceOptions, referenceCacheDir, referenceStrategy, trainerConfig } from './trainer-config.js';

const note = (text: string): void => { process.stderr.write(`bfpo: ${text}\n`); };

/** The tokenizer, with the recipe's chat template in place of its own when the recipe gives one. */
export function textTokenizer(tok: Tokenizer, chatTemplate: string | null): TextTokenizer {
  if (!chatTemplate) return tok;
  const template = new ChatTemplate(chatTemplate, 'the recipe\'s chat_template');
  const tokens = { bos_token: tok.bosToken, eos_token: tok.eosToken, pad_token: tok.padToken, unk_token: tok.unkToken };
  return {
    encode: (text, o) => tok.encode(text, o),
    applyChatTemplate: (messages, o) => template.render(messages, tokens, o?.addGenerationPrompt ?? false),
    bosTokenId: tok.bosTokenId, eosTokenId: tok.eosTokenId, padTokenId: tok.padTokenId,
    decode: (ids) => tok.decode(Array.from(ids)),
  };
}

/** The model's dtype: bfloat16 when bf16 is on (the optimizer keeps fp32 masters), else torch_dtype. */
function modelDtype(r: Recipe): DType | 'auto' {
  return r.values.bf16 ? 'bfloat16' : ((r.values.torch_dtype as DType | 'auto' | null) ?? 'float32');
}

/** A preference run's batch sources, and every data file read. */
export interface PreferenceData { train: PairPlanSource; eval?: PairPlanSource; buffer?: PairPlanSource; files: DataFileHash[] }

/** Mixes, tokenizes and batches a preference recipe's data (main, test and buffer), logging counts and warnings. */
export async function preferenceData(r: Recipe, tok: TextTokenizer): Promise<PreferenceData> {
  const v = r.values;
  const data = await preparePreferenceData({
    ...dataSettings(r, 'preference'),
    tokenizer: tok,
    tokenize: { maxLength: v.max_length as number, maxPromptLength: v.max_prompt_length as number, mode: v.tokenization as TokenizeMode, workers: 0 },
    log: note,
  });
  if (data.train.length === 0) throw new BfpoError(`dataset_mixer ${JSON.stringify(v.dataset_mixer)} yields no training pairs`);
  if (v.use_buffer && data.bufferTrain.length === 0) throw new BfpoError(`buffer_dataset_mixer ${JSON.stringify(v.buffer_dataset_mixer)} yields no pairs`);
  const pad = tok.padTokenId ?? tok.eosTokenId;
  const seed = v.seed as number;
  const batchSize = v.per_device_train_batch_size as number;
  const groupByLength = v.group_by_length as boolean;
  return {
    train: new PairPlanSource(data.train, { batchSize, seed, padTokenId: pad, groupByLength }),
    eval: data.test.length > 0 ? new PairPlanSource(data.test, { batchSize: v.per_device_eval_batch_size as number, seed, padTokenId: pad, shuffle: false }) : undefined,
    buffer: v.use_buffer ? new PairPlanSource(data.bufferTrain, { batchSize, seed: seed + 1, padTokenId: pad, groupByLength }) : undefined,
    files: data.files,
  };
}

/** Reference log-probs of every source, from the cache or computed once with the starting model. */
function precomputedTables(r: Recipe, data: PreferenceData): Partial<Record<DataRole, LogpsTable>> {
  const v = r.values;
  const ref = loadPretrained(v.model_name_or_path as string, { dtype: modelDtype(r) }).model;
  try {
    const checksum = modelChecksum(ref);
    const dir = referenceCacheDir(r);
    const settings = { dtype: ref.outputWeight.dtype };
    const tables: Partial<Record<DataRole, LogpsTable>> = {};
    for (const [role, source] of [['train', data.train], ['buffer', data.buffer], ['eval', data.eval]] as [DataRole, PairPlanSource | undefined][]) {
      if (!source) continue;
      const { table, hit, key } = cachedReferenceLogps(ref, source, dir, settings, { checksum, averageLogps: v.average_log_prob as boolean });
      note(`reference log-probs of the ${role} data ${hit ? 'read from' : 'computed and stored in'} ${dir}/${key}.f64`);
      tables[role] = table;
    }
    return tables;
  } finally {
    ref.dispose();
  }
}

function reference(r: Recipe, model: LanguageModel, data: PreferenceData): { strategy: ReferenceStrategy; dispose(): void } {
  const averageLogps = r.values.average_log_prob as boolean;
  const kind = referenceStrategy(r);
  note(`reference: ${kind}`);
  if (kind === 'precomputed') return { strategy: precomputedReference(precomputedTables(r, data)), dispose: () => undefined };
  if (kind === 'adapter') return { strategy: adapterReference(model, { averageLogps }), dispose: () => undefined };
  const copy = loadPretrained(r.values.model_name_or_path as string, { dtype: modelDtype(r) }).model;
  return { strategy: frozenReference(copy, { averageLogps }), dispose: () => copy.dispose() };
}

/** An SFT run's batch sources, and every data file read. */
export interface SftData { train: SftPlanSource; eval?: SftPlanSource; files: DataFileHash[] }

/** Mixes and tokenizes (or packs, with `packing`) an SFT recipe's data, logging counts and warnings. */
export async function sftData(r: Recipe, tok: TextTokenizer): Promise<SftData> {
  const v = r.values;
  const opts = { maxLength: v.max_seq_length as number, mode: v.tokenization as TokenizeMode };
  const pad = tok.padTokenId ?? tok.eosTokenId;
  const all = (xs: Parameters<typeof tokenizeSft>[0][], split: string): TokenizedSft[] => {
    if (v.packing === true) {
      const packed = packSft(xs, tok, { blockSize: v.max_seq_length as number });
      note(`packed ${split}: ${xs.length} conversations, ${packed.tokens} tokens -> ${packed.blocks.length} blocks of ${v.max_seq_length} (${packed.droppedTokens} tokens after the last block dropped)`);
      return packed.blocks;
    }
    return xs.map((ex) => {
      const t = tokenizeSft(ex, tok, opts);
      if (v.assistant_only_loss === false) t.learn.fill(1);
      return t;
    });
  };
  const mix = await mixDatasets(dataSettings(r, 'sft').main);
  for (const c of mix.counts) note(describeCount(c));
  for (const w of mix.warnings) note(`warning: ${w}`);
  if (mix.report.skipped > 0) note(mix.report.toString());
  const train = all(mix.train, 'train');
  if (train.length === 0) throw new BfpoError(`dataset_mixer ${JSON.stringify(v.dataset_mixer)} yields no training ${v.packing === true ? `blocks of max_seq_length ${v.max_seq_length} tokens` : 'conversations'}`);
  const test = all(mix.test, 'test');
  const seed = v.seed as number;
  return {
    train: new SftPlanSource(train, { batchSize: v.per_device_train_batch_size as number, seed, padTokenId: pad, groupByLength: v.group_by_length as boolean }),
    eval: test.length > 0 ? new SftPlanSource(test, { batchSize: v.per_device_eval_batch_size as number, seed, padTokenId: pad, shuffle: false }) : undefined,
    files: mix.files,
  };
}

/** Applies LoRA when the recipe asks for it, and returns the matching store. */
function prepareModel(r: Recipe, model: LanguageModel, tokenizer: Tokenizer): ModelStore {
  const lora = loraSettings(r);
  if (lora) {
    const layers = applyLora(model, lora);
    note(`LoRA r=${lora.r} alpha=${lora.alpha} on ${layers.length} layers (${lora.targetModules.join(', ')})`);
    return loraModelStore(model, tokenizer, { ...lora, baseModel: r.values.model_name_or_path as string }, r.values.lora_save as 'adapter' | 'merged');
  }
  return hfModelStore(model, tokenizer);
}

function describeModel(model: LanguageModel, selected: string[] | null): void {
  const all = model.namedParameters();
  const count = (xs: typeof all) => xs.reduce((a, [, p]) => a + p.numel(), 0);
  const trainable = selected ? freezeExcept(all, selected, 'selected_layers') : all.filter(([, p]) => p.requiresGrad);
  note(`model: ${(count(all) / 1e6).toFixed(2)}M parameters in ${all[0][1].dtype}, ${(count(trainable) / 1e6).toFixed(2)}M trainable`);
}

/** `bfpo sft` / `bfpo train`: everything a recipe describes, then the training loop. */
export async function runTraining(task: 'sft' | 'preference', r: Recipe): Promise<void> {
  const v = r.values;
  if (v.push_to_hub) note('push_to_hub has no effect: nothing is uploaded; the model stays in output_dir');
  for (const w of reportToWarnings(v.report_to as string[], String(v.output_dir))) note(w);
  const modelDir = v.model_name_or_path as string;
  const tokenizer = loadTokenizer((v.tokenizer_name_or_path as string | null) ?? modelDir);
  const tok = textTokenizer(tokenizer, v.chat_template as string | null);
  const config = trainerConfig(r);
  const model = loadPretrained(modelDir, { dtype: modelDtype(r) }).model;
  // The template the model is trained with is saved with it (tokenizer_config.json, and from there GGUF).
  const chatTemplate = (v.chat_template as string | null) ?? (tokenizer.hasOwnChatTemplate ? null : ZEPHYR_CHAT_TEMPLATE);
  if (!v.chat_template) {
    const warning = missingTemplateWarning(tokenizer, `The tokenizer of ${modelDir}`);
    if (warning) note(warning);
  }
  const store = prepareModel(r, model, chatTemplate ? tokenizer.withChatTemplate(chatTemplate) : tokenizer);
  describeModel(model, config.selectedLayers);
  let release = (): void => undefined;
  try {
    let t: TrainingTask;
    if (task === 'sft') {
      const data = await sftData(r, tok);
      config.runConfig = { ...config.runConfig, data_files: data.files };
      t = { kind: 'sft', train: data.train, eval: data.eval };
    } else {
      const data = await preferenceData(r, tok);
      config.runConfig = { ...config.runConfig, data_files: data.files };
      const ref = reference(r, model, data);
      release = ref.dispose;
      t = {
        kind: 'preference', train: data.train, buffer: data.buffer, eval: data.eval, reference: ref.strategy, originalMetrics: v.original_metrics === true,
        loss: { ...preferenceOptions(r), averageLogps: v.average_log_prob as boolean },
      };
    }
    if (v.do_train === false) {
      if (!t.eval) throw new BfpoError('do_train is false but the data has no test split to evaluate');
      const metrics = runEvaluation(model, t);
      mkdirSync(config.outputDir, { recursive: true });
      writeFileSync(join(config.outputDir, 'eval_results.json'), `${JSON.stringify(metrics, null, 2)}\n`);
      note(`evaluation: ${Object.entries(metrics).map(([k, x]) => `${k} ${x.toFixed(4)}`).join(', ')}`);
      return;
    }
    if (config.evalStrategy === 'no' && !config.evalAtEnd) t.eval = undefined;
    const result = train(model, t, config, store);
    writeModelCard(config.outputDir, modelCard(r, task, result.lastLog, result.lastEval, packageVersion()));
    note(`done: ${result.globalStep} steps; the model is in ${config.outputDir} (model card: README.md)`);
  } finally {
    release();
    model.dispose();
  }
}

/** `bfpo logps`: fills the reference log-prob cache for a recipe's data. */
export async function runLogpsCache(r: Recipe): Promise<void> {
  const tokenizer = loadTokenizer((r.values.tokenizer_name_or_path as string | null) ?? (r.values.model_name_or_path as string));
  const data = await preferenceData(r, textTokenizer(tokenizer, r.values.chat_template as string | null));
  precomputedTables(r, data);
}
