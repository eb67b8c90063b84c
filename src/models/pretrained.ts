// Loading a causal LM with its tokenizer from a Hugging Face folder or a GGUF file, and saving one back as a folder;
// each also without blocking the event loop on the large reads and writes.
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type PendingFile, pendingFile, writeFiles, writeFilesAsync } from '../io/atomic.js';
import { FormatError } from '../io/errors.js';
import { isHubRepoId, resolveHubPath } from '../io/hf-cache.js';
import { type ByteReader, runReader, runReaderAsync } from '../io/byte-reads.js';
import { ggufToHfReader } from '../io/gguf-convert.js';
import { findHfFolder, hfWeightsReader, type HfFolder } from '../io/hf-folder.js';
import { type TensorCheck, tensorsReader } from '../io/safetensors.js';
import { SAFETENSORS_INDEX, shardedFiles } from '../io/safetensors-shards.js';
import { type Tokenizer, generationConfig, loadTokenizer, tokenizerFiles } from '../io/tokenizer.js';
import { type DType, type Device, checkDevice, isFloatingDtype } from '../tensor/dtype.js';
import { type AttentionImplementation, checkAttentionImplementation } from './llama.js';
import { expected } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { LanguageModel } from './language-model.js';
import { ConfigError, type ModelConfig } from './config.js';
import { adapterWeightsFile, isAdapterFolder, mergeAdapterWeights, readAdapterConfig } from './peft-adapter.js';
import { familyOf, familyOfConfig, ggufArchs } from './registry.js';

export interface PretrainedOptions {
  /**
   * The parameters' dtype. Default float32 (as transformers); 'auto' takes the folder's `torch_dtype` (float32,
   * bfloat16 or float16; note that libtorch has no float16 matrix products on CPU).
   */
  dtype?: DType | 'auto';
  device?: Device;
  /** The attention kernel of the model (see AttentionImplementation); default auto. */
  attention?: AttentionImplementation;
  /** The hub revision (branch, tag or commit) when `path` is a repo id read from the Hugging Face cache. Default main. */
  revision?: string;
  /** The base model of a PEFT adapter folder, instead of its adapter_config.json's base_model_name_or_path. */
  base?: string;
}

export interface Pretrained {
  model: LanguageModel;
  /** The folder's tokenizer, or the one built from GGUF metadata; null when there is none. */
  tokenizer: Tokenizer | null;
  config: ModelConfig;
}

function pickDtype(requested: DType | 'auto' | undefined, config: Record<string, unknown>): DType {
  if (requested === undefined) return 'float32';
  if (requested === 'auto') {
    const d = config.torch_dtype;
    return d === 'bfloat16' || d === 'float16' || d === 'float32' ? d : 'float32';
  }
  if (!isFloatingDtype(requested)) throw expected("a floating-point dtype or 'auto'", 'dtype', requested);
  return requested;
}

/** An empty model (parameters allocated, not filled) of `config`'s family: the shapes and dtypes the weights must have. */
function emptyModel(config: Record<string, unknown>, dtype: DType, device: Device): LanguageModel {
  const family = familyOf(config);
  return family.create(family.parseConfig(config), { dtype, device, init: 'empty' });
}

/** The GGUF metadata key each bounded config key of a Llama-family model comes from (`{arch}` is its architecture). */
const GGUF_SOURCE_KEYS: Record<string, string> = {
  vocab_size: 'tokenizer.ggml.tokens', hidden_size: '{arch}.embedding_length', intermediate_size: '{arch}.feed_forward_length',
  num_hidden_layers: '{arch}.block_count', num_attention_heads: '{arch}.attention.head_count', num_key_value_heads: '{arch}.attention.head_count_kv',
  head_dim: '{arch}.attention.key_length', max_position_embeddings: '{arch}.context_length',
};

/** `emptyModel` for the config read from a GGUF header; a refused size names the GGUF field it came from. */
function ggufModel(path: string, config: Record<string, unknown>, dtype: DType, device: Device): LanguageModel {
  try {
    return emptyModel(config, dtype, device);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const key = /config key (\w+)/.exec(err.message)?.[1];
    const arch = ggufArchs().find((a) => a.modelType === config.model_type)?.name ?? 'llama';
    throw new FormatError(path, `the header describes a model bfpo refuses: ${err.message}`, key ? GGUF_SOURCE_KEYS[key]?.replace('{arch}', arch) : undefined);
  }
}

/**
 * The check of each stored tensor against the model `configSource` describes, made before its bytes are read: a
 * wrong shape, or an integer or boolean tensor where the model has a floating-point parameter, is refused naming the
 * tensor, what the config implies and what the file holds. Floating-point tensors of another precision are cast.
 */
export function weightCheck(model: LanguageModel, configSource: string): TensorCheck {
  const own = model.stateDict();
  return (file, name, dtype, shape) => {
    const p = own.get(name);
    if (!p) return; // unknown or ignored names are the state dict's concern (after reading, with every key listed)
    const shapeOk = p.shape.length === shape.length && p.shape.every((d, i) => d === shape[i]);
    const dtypeOk = isFloatingDtype(p.dtype) ? isFloatingDtype(dtype) : dtype === p.dtype;
    if (shapeOk && dtypeOk) return;
    const want = isFloatingDtype(p.dtype) ? `a floating-point dtype (loaded as ${p.dtype})` : p.dtype;
    const what = shapeOk ? 'dtype' : dtypeOk ? 'shape' : 'shape and dtype';
    throw new FormatError(file, `${what} ${shapeOk || dtypeOk ? 'disagrees' : 'disagree'} with ${configSource}: it implies ${want} of shape [${p.shape.join(', ')}], the file holds ${dtype} of shape [${shape.join(', ')}]`, name);
  };
}

/** Loads `weights` into `model` (both checked to match), frees the weights, and returns the model in eval mode. */
function fill(model: LanguageModel, weights: Map<string, Tensor>): LanguageModel {
  try {
    model.loadStateDict(weights, { assign: true });
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    for (const w of weights.values()) w.dispose();
  }
  model.eval();
  return model;
}

/**
 * Loads a model of a registered family (Llama, Mistral, Qwen2 built in; see registry.ts) with its tokenizer from
 * a Hugging Face folder (config.json + safetensors), a `.gguf` file, a hub repo id in the Hugging Face cache, or a
 * PEFT LoRA adapter folder (its adapters merged into the base model that adapter_config.json or `opts.base` names).
 *
 * @example
 * const { model, tokenizer, config } = loadPretrained('models/TinyLlama-1.1B-Chat', { dtype: 'bfloat16' });
 */
export function loadPretrained(path: string, opts: PretrainedOptions = {}): Pretrained {
  return runReader(pretrainedReader(path, opts, 'loadPretrained(path)'));
}

/**
 * `loadPretrained` with the weight bytes (safetensors of a folder, single file or shards; the tensors of a `.gguf`
 * file; a PEFT adapter and its base model) read off the event loop, so timers and I/O keep running while a large
 * model loads.
 *
 * @example
 * const { model, tokenizer } = await loadPretrainedAsync('models/TinyLlama-1.1B-Chat', { dtype: 'bfloat16' });
 */
export function loadPretrainedAsync(path: string, opts: PretrainedOptions = {}): Promise<Pretrained> {
  return runReaderAsync(pretrainedReader(path, opts, 'loadPretrainedAsync(path)'));
}

/** The one loader behind `loadPretrained` and `loadPretrainedAsync` (see io/byte-reads.ts). */
function* pretrainedReader(path: string, opts: PretrainedOptions, caller: string): ByteReader<Pretrained> {
  if (typeof path !== 'string' || path === '') throw expected('a folder or .gguf path', caller, path);
  const device = checkDevice(opts.device ?? 'cpu');
  const attention = checkAttentionImplementation(opts.attention ?? 'auto', 'attention');
  path = locate(path, opts.revision);
  if (statSync(path).isDirectory() && isAdapterFolder(path)) {
    const adapter = readAdapterConfig(path);
    const basePath = opts.base ?? adapter.base;
    if (!basePath) throw new FormatError(join(path, 'adapter_config.json'), 'names no base model; give one (--base or opts.base)', 'base_model_name_or_path');
    const located = locate(basePath, undefined);
    if (isAdapterFolder(located)) throw new FormatError(located, 'is itself an adapter folder; the base of an adapter must be a full model');
    const file = adapterWeightsFile(path);
    const base = yield* weightsReader(located, opts.dtype, device);
    try {
      mergeAdapterWeights(base.weights, yield* tensorsReader([{ path: file }]), file, adapter.scaling);
    } catch (err) {
      for (const w of base.weights.values()) w.dispose();
      base.model.dispose();
      throw err;
    }
    const tokenizer = existsSync(join(path, 'tokenizer.json')) ? loadTokenizer(path) : base.tokenizer;
    const model = fill(base.model, base.weights);
    if ('attention' in model) model.attention = attention;
    return { model, tokenizer, config: model.config };
  }
  const { model, weights, tokenizer } = yield* weightsReader(path, opts.dtype, device);
  fill(model, weights);
  if ('attention' in model) model.attention = attention;
  return { model, tokenizer, config: model.config };
}

/** A local path for `path`: itself, or its Hugging Face cache snapshot when it is a repo id. */
function locate(path: string, revision: string | undefined): string {
  if (!existsSync(path) && !isHubRepoId(path)) throw new FormatError(path, 'does not exist (expected a Hugging Face model folder, a PEFT adapter folder or a .gguf file)');
  return resolveHubPath(path, 'model', { revision });
}

/**
 * The empty model, the weights (in the chosen dtype, each checked against the model before its bytes are read) and
 * the tokenizer of a full model folder or a .gguf file.
 */
function* weightsReader(path: string, requested: DType | 'auto' | undefined, device: Device): ByteReader<{ model: LanguageModel; weights: Map<string, Tensor>; tokenizer: Tokenizer | null }> {
  let model: LanguageModel | undefined;
  try {
    if (statSync(path).isFile()) {
      if (!path.endsWith('.gguf')) throw new FormatError(path, 'is a file but not a .gguf model; give a Hugging Face folder or a .gguf file');
      const dtype = pickDtype(requested, {});
      const checkFor = (config: Record<string, unknown>): TensorCheck => {
        model = ggufModel(path, config, dtype, device);
        return weightCheck(model, `the model configuration in ${path}'s header`);
      };
      const { weights, tokenizer } = yield* ggufToHfReader(path, { archs: ggufArchs(), dtype, device, checkFor });
      return { model: model!, weights, tokenizer: tokenizer ?? null };
    }
    const { folder, dtype, tokenizer } = hfFolderParts(path, requested);
    model = emptyModel(folder.config, dtype, device);
    const weights = yield* hfWeightsReader(folder, { dtype, device, check: weightCheck(model, join(folder.dir, 'config.json')) });
    return { model, weights, tokenizer };
  } catch (err) {
    model?.dispose();
    throw err;
  }
}

/** A Hugging Face folder's files, the dtype to load it in and its tokenizer (checked before any weight is read). */
function hfFolderParts(path: string, requested: DType | 'auto' | undefined): { folder: HfFolder; dtype: DType; tokenizer: Tokenizer | null } {
  const folder = findHfFolder(path);
  familyOf(folder.config); // an unregistered architecture fails before any weight is read
  const dtype = pickDtype(requested, folder.config);
  const tokenizer = existsSync(join(path, 'tokenizer.json')) ? loadTokenizer(path) : null;
  return { folder, dtype, tokenizer };
}

export interface SaveOptions {
  /** Largest safetensors shard, in bytes or as '5GB'; above it the weights are sharded with an index file. Default 5GB. */
  maxShardSize?: number | string;
  /** Weights to write instead of the model's own state dict (e.g. merged LoRA weights). */
  weights?: Map<string, Tensor>;
}

/**
 * Writes `model` (and `tokenizer`) as a Hugging Face folder: config.json, model.safetensors (or shards with
 * model.safetensors.index.json) and tokenizer files. The folder is written beside the target and renamed into
 * place, so a crash never leaves a half-written model where a complete one was.
 *
 * @example
 * savePretrained(model, tokenizer, 'out/my-model');
 */
export function savePretrained(model: LanguageModel, tokenizer: Tokenizer | null, dir: string, opts: SaveOptions = {}): void {
  const { target, tmp } = freshFolder(dir);
  try {
    writeModelFiles(model, tokenizer, tmp, opts);
    replaceFolder(target, tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * `savePretrained` with every file written through node:fs/promises, so timers and I/O keep running while a large
 * model is written. The same files with the same bytes; the model must not change until the promise settles.
 *
 * @example
 * await savePretrainedAsync(model, tokenizer, 'out/my-model');
 */
export async function savePretrainedAsync(model: LanguageModel, tokenizer: Tokenizer | null, dir: string, opts: SaveOptions = {}): Promise<void> {
  const { target, tmp } = freshFolder(dir);
  try {
    await writeModelFilesAsync(model, tokenizer, tmp, opts);
    replaceFolder(target, tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** An empty temporary folder beside `dir`'s resolved target. */
function freshFolder(dir: string): { target: string; tmp: string } {
  const target = resolve(dir);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(target)}.${process.pid}.${Date.now()}.tmp`);
  mkdirSync(tmp);
  return { target, tmp };
}

/** Renames the complete folder `tmp` to `target`, replacing what was there. */
function replaceFolder(target: string, tmp: string): void {
  const old = existsSync(target) ? `${tmp}.old` : null;
  if (old) renameSync(target, old);
  renameSync(tmp, target);
  if (old) rmSync(old, { recursive: true, force: true });
}

/**
 * Writes config.json, the safetensors weights, the tokenizer files and generation_config.json INTO `dir`, each file
 * atomically, leaving other files there alone (a training output folder keeps its checkpoints and logs).
 * `savePretrained` uses it to fill a fresh folder that then replaces the target whole.
 */
export function writeModelFiles(model: LanguageModel, tokenizer: Tokenizer | null, dir: string, opts: SaveOptions = {}): void {
  const files = modelFiles(model, tokenizer, dir, opts);
  writeFiles(files);
  dropStaleIndex(dir, files);
}

/** `writeModelFiles` through node:fs/promises (the event loop runs while the files are written). */
export async function writeModelFilesAsync(model: LanguageModel, tokenizer: Tokenizer | null, dir: string, opts: SaveOptions = {}): Promise<void> {
  const files = modelFiles(model, tokenizer, dir, opts);
  await writeFilesAsync(files);
  dropStaleIndex(dir, files);
}

/** The files of a saved model, in the order they are written. */
function modelFiles(model: LanguageModel, tokenizer: Tokenizer | null, dir: string, opts: SaveOptions): PendingFile[] {
  mkdirSync(dir, { recursive: true });
  const weights = opts.weights ?? model.stateDict();
  const dtype = weights.values().next().value?.dtype ?? 'float32';
  const files = [
    pendingFile(join(dir, 'config.json'), `${JSON.stringify({ ...familyOfConfig(model.config).toHfConfig(model.config), torch_dtype: dtype }, null, 2)}\n`),
    ...shardedFiles(dir, weights, { maxShardSize: opts.maxShardSize, metadata: { format: 'pt' } }),
  ];
  if (tokenizer) {
    files.push(...tokenizerFiles(tokenizer, dir), pendingFile(join(dir, 'generation_config.json'), `${JSON.stringify(generationConfig(tokenizer), null, 2)}\n`));
  }
  return files;
}

/** With a single weights file written, an index left by an earlier sharded save would point at stale shards: removed. */
function dropStaleIndex(dir: string, files: PendingFile[]): void {
  if (!files.some((f) => basename(f.path) === SAFETENSORS_INDEX) && existsSync(join(dir, SAFETENSORS_INDEX))) rmSync(join(dir, SAFETENSORS_INDEX));
}
