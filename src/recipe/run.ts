// Builds what a recipe describes (model, tokenizer, data sources, reference) and runs the training loop, or only
// the reference log-prob pass (`bfpo logps`).
import { freezeExcept } from '../nn/freeze.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataFileHash } from '../data/file-hash.js';
import { describeCount, mixDatasets } from '../data/mixer.js';
import { runStepsBatched } from '../data/encode-batched.js';
import { packSft, packSftBatched } from '../data/pack-sft.js';
import { preparePreferenceData } from '../data/prepare.js';
import { sftSteps, tokenizeSft, type TokenizedSft } from '../data/tokenize-sft.js';
import type { BatchTextEncoder, TextTokenizer } from '../data/tokenizer.js';
import type { SftExample } from '../data/types.js';
import { batchEncoder, type BatchEncoder } from '../io/rust-tokenizer.js';
import { ChatTemplate, ZEPHYR_CHAT_TEMPLATE } from '../io/chat-template.js';
import type { LanguageModel } from '../models/language-model.js';
import { applyLora } from '../nn/lora.js';
import { BfpoError } from '../errors.js';
import { PairPlanSource, SftPlanSource } from '../train/plan-source.js';
import {
  adapterReference, cachedReferenceLogps, computeReferenceLogps, frozenReference, modelChecksum, precomputedReference,
  type DataRole, type LogpsTable, type ReferenceStrategy,
} from '../train/reference.js';
import { runEvaluation } from '../train/evaluate.js';
import type { ProcessGroup } from '../parallel/group.js';
import type { TrainParallel } from '../parallel/data-parallel.js';
import { mergeTables, RankBatches } from '../parallel/split-work.js';
import { disposeBatch, type BatchSource, type PreferenceBatch } from '../train/types.js';
import { signalExitCode } from '../train/signals.js';
import { phaseProgress, type PhaseProgress } from '../train/progress.js';
import { trainAsync, type ModelStore, type TrainHooks, type TrainingTask, type TrainResult } from '../train/trainer.js';
import { loadTokenizer, missingTemplateWarning, type Tokenizer } from '../io/tokenizer.js';
import { reportToWarnings } from './report-to.js';
import { modelCard, packageVersion, writeModelCard } from './model-card.js';
import { loadPretrained, loadPretrainedAsync } from '../models/pretrained.js';
import { cachedTokenized } from './data-cache.js';
import { mixOptions } from './data-settings.js';
import { hfModelStore, loraModelStore } from './hf-model.js';
import type { RunSettings } from './settings.js';
import type { Device } from '../tensor/dtype.js';
import { resolveDevice } from '../tensor/device.js';

const note = (text: string): void => { process.stderr.write(`bfpo: ${text}\n`); };

/** The tokenizer, with the recipe's chat template in place of its own when the recipe gives one. */
export function textTokenizer(tok: Tokenizer, chatTemplate: string | null): TextTokenizer {
  if (!chatTemplate) return tok;
  const template = new ChatTemplate(chatTemplate, 'the recipe\'s chat_template');
  return {
    encode: (text, o) => tok.encode(text, o),
    applyChatTemplate: (messages, o) => tok.applyChatTemplate(messages, { addGenerationPrompt: o?.addGenerationPrompt ?? false, template }),
    bosTokenId: tok.bosTokenId, eosTokenId: tok.eosTokenId, padTokenId: tok.padTokenId,
    decode: (ids) => tok.decode(Array.from(ids)),
  };
}

/** Builds a run's batch encoder when first called (so not on a tokenized-cache hit), and logs which implementation encodes. */
export type EncoderFactory = () => Promise<BatchTextEncoder>;

/**
 * The encoder factory of a run: bfpo's native encoder or Hugging Face's Rust tokenizers library where it gives
 * bfpo's ids, else bfpo's JavaScript tokenizer (tokenizer_backend, BFPO_TOKENIZER_BACKEND); the choice is logged when it is made.
 */
export function dataEncoder(s: RunSettings, tokenizer: Tokenizer): EncoderFactory {
  let built: Promise<BatchEncoder> | undefined;
  return () => (built ??= batchEncoder(tokenizer, { backend: s.tokenize.backend, checkTexts: s.tokenize.checkTexts, log: note }).then((e) => { note(e.description); return e; }));
}

/** A progress callback that shows phase `label`; a new display starts whenever the count starts over. */
function phaseFeed(label: string): (done: number, total: number) => void {
  let phase: PhaseProgress | null = null;
  let last = 0;
  return (done, total) => {
    if (phase === null || done < last) {
      phase?.stop();
      phase = phaseProgress(label, total);
    }
    last = done;
    phase.update(done);
    if (done >= total) { phase.stop(); phase = null; last = 0; }
  };
}

/** A preference run's batch sources, and every data file read. */
export interface PreferenceData { train: PairPlanSource; eval?: PairPlanSource; buffer?: PairPlanSource; files: DataFileHash[] }

/** A data-parallel rank's place: its sources batch the global batch (per-device size times the ranks) and slice it. */
export type RankSplit = { rank: number; worldSize: number };

/** Where a run's data goes and how it is encoded: without `encoder`, with `tok.encode` one text at a time. */
export interface DataOptions { split?: RankSplit; device?: Device; encoder?: EncoderFactory }

/** Mixes, tokenizes and batches a preference run's data (main, test and buffer), logging counts and warnings. */
export async function preferenceData(s: RunSettings, tok: TextTokenizer, o: DataOptions = {}): Promise<PreferenceData> {
  const { split, device = 'cpu' } = o;
  const { main, buffer } = s.data;
  const data = await preparePreferenceData({
    main: { ...mixOptions(main, 'preference'), onHashProgress: phaseFeed('hashing data files (bytes)') },
    ...(buffer ? { buffer: { ...mixOptions(buffer, 'preference'), onHashProgress: phaseFeed('hashing buffer data files (bytes)') } } : {}),
    tokenizer: tok,
    tokenize: { maxLength: s.tokenize.maxLength, maxPromptLength: s.tokenize.maxPromptLength, mode: s.tokenize.mode, workers: 0, onProgress: phaseFeed('tokenizing pairs') },
    encoder: o.encoder,
    log: note,
    tokenized: (files, compute) => cachedTokenized(s, 'pairs', files, compute, note),
  });
  if (data.train.length === 0) throw new BfpoError(`dataset_mixer ${JSON.stringify(main.mixer)} yields no training pairs`);
  if (buffer && data.bufferTrain.length === 0) throw new BfpoError(`buffer_dataset_mixer ${JSON.stringify(buffer.mixer)} yields no pairs`);
  const pad = tok.padTokenId ?? tok.eosTokenId;
  const seed = s.trainer.seed;
  const batchSize = s.batch.train * (split?.worldSize ?? 1);
  const groupByLength = s.batch.groupByLength;
  return {
    train: new PairPlanSource(data.train, { batchSize, seed, padTokenId: pad, groupByLength, split, device }),
    eval: data.test.length > 0 ? new PairPlanSource(data.test, { batchSize: s.batch.eval, seed, padTokenId: pad, shuffle: false, device }) : undefined,
    buffer: buffer ? new PairPlanSource(data.bufferTrain, { batchSize, seed: seed + 1, padTokenId: pad, groupByLength, split, device }) : undefined,
    files: data.files,
  };
}

/** padding_free: false switches a model's padding-free batches off. */
function paddingFree<M extends LanguageModel>(s: RunSettings, model: M): M {
  if (!s.paddingFree && model.paddingFree !== undefined) model.paddingFree = false;
  return model;
}

/**
 * Reference log-probs of every source, from the cache or computed once with the starting model; with `group`, the
 * batches are split over its ranks and merged into the same table, which rank 0 stores.
 */
function precomputedTables(s: RunSettings, data: PreferenceData, device: Device, group?: ProcessGroup): Partial<Record<DataRole, LogpsTable>> {
  const ref = paddingFree(s, loadPretrained(s.model.path, { dtype: s.model.dtype, device, attention: s.model.attention }).model);
  try {
    const checksum = modelChecksum(ref);
    const dir = s.reference.cacheDir;
    const settings = { dtype: ref.outputWeight.dtype };
    const tables: Partial<Record<DataRole, LogpsTable>> = {};
    for (const [role, sliced] of [['train', data.train], ['buffer', data.buffer], ['eval', data.eval]] as [DataRole, PairPlanSource | undefined][]) {
      if (!sliced) continue;
      // Every pair's log-probs, also on a data-parallel rank (whose source gives it only its slice of each batch).
      const source = sliced.opts.split ? new PairPlanSource(sliced.items, { ...sliced.opts, split: undefined }) : sliced;
      const phase = phaseProgress(`reference pass (${role})`, source.length);
      let table: LogpsTable, hit: boolean, key: string;
      try {
        const averageLogps = s.loss?.averageLogps ?? false;
        const onBatch = (done: number): void => phase.update(done);
        const split = group && group.worldSize > 1 ? {
          compute: (src: BatchSource<PreferenceBatch>) => mergeTables(group, computeReferenceLogps(ref, new RankBatches(src, group.rank, group.worldSize, disposeBatch), { averageLogps, onBatch })),
          store: group.rank === 0,
        } : {};
        ({ table, hit, key } = cachedReferenceLogps(ref, source, dir, settings, { checksum, averageLogps, onBatch, ...split }));
      } finally {
        phase.stop();
      }
      note(`reference log-probs of the ${role} data ${hit ? 'read from' : 'computed and stored in'} ${dir}/${key}.f64`);
      tables[role] = table;
    }
    return tables;
  } finally {
    ref.dispose();
  }
}

function reference(s: RunSettings, model: LanguageModel, data: PreferenceData, device: Device, par?: TrainParallel): { strategy: ReferenceStrategy; dispose(): void } {
  const averageLogps = s.loss?.averageLogps ?? false;
  const kind = s.reference.strategy;
  note(`reference: ${kind}`);
  if (kind === 'precomputed') return { strategy: precomputedReference(precomputedTables(s, data, device)), dispose: () => undefined };
  if (kind === 'adapter') return { strategy: adapterReference(model, { averageLogps }), dispose: () => undefined };
  const copy = paddingFree(s, loadPretrained(s.model.path, { dtype: s.model.dtype, device, attention: s.model.attention }).model);
  const strategy = frozenReference(copy, { averageLogps });
  // With parameter sharding the reference is split over the ranks too, gathered layer by layer as it runs.
  par?.shardReference(copy, copy.namedParameters());
  return { strategy, dispose: () => copy.dispose() };
}

/** An SFT run's batch sources, and every data file read. */
export interface SftData { train: SftPlanSource; eval?: SftPlanSource; files: DataFileHash[] }

/** Mixes and tokenizes (or packs, with `packing`) an SFT run's data, logging counts and warnings. */
export async function sftData(s: RunSettings, tok: TextTokenizer, o: DataOptions = {}): Promise<SftData> {
  const { split, device = 'cpu' } = o;
  const opts = { maxLength: s.tokenize.maxSeqLength, mode: s.tokenize.mode };
  const pad = tok.padTokenId ?? tok.eosTokenId;
  const all = async (xs: SftExample[], split: string): Promise<TokenizedSft[]> => {
    const encoder = await o.encoder?.();
    if (s.tokenize.packing) {
      const size = { blockSize: s.tokenize.maxSeqLength };
      const packed = encoder ? await packSftBatched(xs, tok, size, encoder, phaseFeed(`tokenizing ${split} conversations`)) : packSft(xs, tok, size);
      note(`packed ${split}: ${xs.length} conversations, ${packed.tokens} tokens -> ${packed.blocks.length} blocks of ${s.tokenize.maxSeqLength} (${packed.droppedTokens} tokens after the last block dropped)`);
      return packed.blocks;
    }
    const progress = phaseFeed(`tokenizing ${split} conversations`);
    const out = encoder
      ? await runStepsBatched(xs, (ex) => sftSteps(ex, tok, opts), encoder, { onProgress: progress })
      : xs.map((ex, i) => {
        const t = tokenizeSft(ex, tok, opts);
        if ((i + 1) % 256 === 0 || i + 1 === xs.length) progress(i + 1, xs.length);
        return t;
      });
    if (!s.tokenize.assistantOnlyLoss) for (const t of out) t.learn.fill(1);
    return out;
  };
  const mix = await mixDatasets({ ...mixOptions(s.data.main, 'sft'), onHashProgress: phaseFeed('hashing data files (bytes)') });
  for (const c of mix.counts) note(describeCount(c));
  for (const w of mix.warnings) note(`warning: ${w}`);
  if (mix.report.skipped > 0) note(mix.report.toString());
  const { train, test } = await cachedTokenized(s, s.tokenize.packing ? 'sft-packed' : 'sft', mix.files,
    async () => ({ train: await all(mix.train, 'train'), test: await all(mix.test, 'test') }), note);
  if (train.length === 0) throw new BfpoError(`dataset_mixer ${JSON.stringify(s.data.main.mixer)} yields no training ${s.tokenize.packing ? `blocks of max_seq_length ${s.tokenize.maxSeqLength} tokens` : 'conversations'}`);
  const seed = s.trainer.seed;
  return {
    train: new SftPlanSource(train, { batchSize: s.batch.train * (split?.worldSize ?? 1), seed, padTokenId: pad, groupByLength: s.batch.groupByLength, split, device }),
    eval: test.length > 0 ? new SftPlanSource(test, { batchSize: s.batch.eval, seed, padTokenId: pad, shuffle: false, device }) : undefined,
    files: mix.files,
  };
}

/** Applies LoRA when the recipe asks for it, and returns the matching store. */
function prepareModel(s: RunSettings, model: LanguageModel, tokenizer: Tokenizer): ModelStore {
  if (s.lora) {
    const { save, ...lora } = s.lora;
    const layers = applyLora(model, lora);
    note(`LoRA r=${lora.r} alpha=${lora.alpha} on ${layers.length} layers (${lora.targetModules.join(', ')})`);
    return loraModelStore(model, tokenizer, { ...lora, baseModel: s.model.path }, save);
  }
  return hfModelStore(model, tokenizer);
}

function describeModel(model: LanguageModel, selected: string[] | null): void {
  const all = model.namedParameters();
  const count = (xs: typeof all) => xs.reduce((a, [, p]) => a + p.numel(), 0);
  const trainable = selected ? freezeExcept(all, selected, 'selected_layers') : all.filter(([, p]) => p.requiresGrad);
  note(`model: ${(count(all) / 1e6).toFixed(2)}M parameters in ${all[0][1].dtype}, ${(count(trainable) / 1e6).toFixed(2)}M trainable`);
}

/**
 * `bfpo sft` / `bfpo train`: everything the resolved settings describe, then the training loop (which hands the
 * event loop back between steps; `hooks` follow and stop it). Resolves with the run's result, or null when
 * do_train is false (only an evaluation ran).
 */
export async function runTraining(s: RunSettings, hooks: TrainHooks = {}): Promise<TrainResult | null> {
  // First, so that a device that cannot be used stops the run before anything is read.
  const device = resolveDevice(s.device, 'device');
  for (const n of s.notes) note(n);
  note(`device: ${device}${s.device === 'auto' ? ' (device: auto)' : ''}`);
  const tokenizer = loadTokenizer(s.model.tokenizerPath);
  tokenizer.contentSpecialTokens = s.model.contentSpecialTokens;
  const tok = textTokenizer(tokenizer, s.model.chatTemplate);
  const config = { ...s.trainer };
  const model = paddingFree(s, (await loadPretrainedAsync(s.model.path, { dtype: s.model.dtype, device, attention: s.model.attention })).model);
  // The template the model is trained with is saved with it (tokenizer_config.json, and from there GGUF).
  const chatTemplate = s.model.chatTemplate ?? (tokenizer.hasOwnChatTemplate ? null : ZEPHYR_CHAT_TEMPLATE);
  if (!s.model.chatTemplate) {
    const warning = missingTemplateWarning(tokenizer, `The tokenizer of ${s.model.path}`);
    if (warning) note(warning);
  }
  const store = prepareModel(s, model, chatTemplate ? tokenizer.withChatTemplate(chatTemplate) : tokenizer);
  describeModel(model, config.selectedLayers);
  let release = (): void => undefined;
  const par = hooks.parallel;
  const split = par ? { rank: par.rank, worldSize: par.worldSize } : undefined;
  // With ranks, rank 0 prepares the data (and the reference log-probs) first; the others then read its caches.
  const waitFor = (turn: 'main' | 'others'): void => { if (par && par.isMain === (turn === 'main')) par.group.barrier(); };
  try {
    let t: TrainingTask;
    waitFor('others');
    if (s.task === 'sft') {
      const data = await sftData(s, tok, { split, device, encoder: dataEncoder(s, tokenizer) });
      config.runConfig = { ...config.runConfig, data_files: data.files };
      t = { kind: 'sft', train: data.train, eval: data.eval };
    } else {
      const loss = s.loss;
      if (!loss) throw new BfpoError('A preference run needs its loss settings (resolveSettings with task preference)');
      const data = await preferenceData(s, tok, { split, device, encoder: dataEncoder(s, tokenizer) });
      config.runConfig = { ...config.runConfig, data_files: data.files };
      const ref = reference(s, model, data, device, par);
      release = ref.dispose;
      t = {
        kind: 'preference', train: data.train, buffer: data.buffer, eval: data.eval, reference: ref.strategy, originalMetrics: s.originalMetrics,
        loss: { lossType: loss.type, beta: loss.beta, b1: loss.b1, alpha: loss.alpha, labelSmoothing: loss.labelSmoothing, averageLogps: loss.averageLogps },
      };
    }
    waitFor('main');
    if (!s.doTrain) {
      if (!t.eval) throw new BfpoError('do_train is false but the data has no test split to evaluate');
      const phase = phaseProgress('evaluation', t.eval.length);
      let metrics: Record<string, number>;
      try {
        metrics = runEvaluation(model, t, (done) => phase.update(done));
      } finally {
        phase.stop();
      }
      mkdirSync(config.outputDir, { recursive: true });
      writeFileSync(join(config.outputDir, 'eval_results.json'), `${JSON.stringify(metrics, null, 2)}\n`);
      note(`evaluation: ${Object.entries(metrics).map(([k, x]) => `${k} ${x.toFixed(4)}`).join(', ')}`);
      return null;
    }
    if (config.evalStrategy === 'no' && !config.evalAtEnd) t.eval = undefined;
    const result = await trainAsync(model, t, config, store, hooks);
    if (result.alreadyComplete) return result;
    if (result.stoppedBy) {
      note(`stopped by ${result.stoppedBy} at step ${result.globalStep}; rerun the same ${result.stoppedBy === 'abort' ? 'call' : 'command'} to resume from ${result.lastCheckpoint}`);
      if (result.stoppedBy !== 'abort') process.exitCode = signalExitCode(result.stoppedBy);
      return result;
    }
    writeModelCard(config.outputDir, modelCard(s.recipe, s.task, result.lastLog, result.lastEval, packageVersion()));
    note(`done: ${result.globalStep} steps; the model is in ${config.outputDir} (model card: README.md)`);
    return result;
  } finally {
    release();
    model.dispose();
  }
}

/** `bfpo logps`: fills the reference log-prob cache for a recipe's data (with `group`, split over its ranks). */
export async function runLogpsCache(s: RunSettings, group?: ProcessGroup): Promise<void> {
  const device = resolveDevice(s.device, 'device');
  note(`device: ${device}${s.device === 'auto' ? ' (device: auto)' : ''}`);
  const tokenizer = loadTokenizer(s.model.tokenizerPath);
  tokenizer.contentSpecialTokens = s.model.contentSpecialTokens;
  // Rank 0 tokenizes first; the others then read its tokenized cache.
  if (group && group.rank !== 0) group.barrier();
  const data = await preferenceData(s, textTokenizer(tokenizer, s.model.chatTemplate), { device, encoder: dataEncoder(s, tokenizer) });
  if (group && group.rank === 0) group.barrier();
  precomputedTables(s, data, device, group);
}
