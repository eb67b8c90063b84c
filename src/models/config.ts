// Model configuration: parses and validates a Hugging Face config.json of the Llama family (Llama, Mistral, Qwen2)
// into one camelCase ModelConfig with every default filled in. Errors name the offending key.
import { type DType } from '../tensor/dtype.js';
import { ArgumentError, describe } from '../errors.js';

/** The architectures this package implements, by HF class name and by model_type. */
export const SUPPORTED_ARCHITECTURES = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
} as const;
export type Architecture = keyof typeof SUPPORTED_ARCHITECTURES;
export type ModelType = (typeof SUPPORTED_ARCHITECTURES)[Architecture];

/** The rope_scaling kinds this package implements. */
export const SUPPORTED_ROPE_SCALING = ['llama3', 'linear'] as const;

/** Rotary scaling: Llama 3.1's frequency-dependent scaling, or linear position interpolation. */
export type RopeScaling =
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
  | { type: 'linear'; factor: number };

/** How a decoder layer attends. */
export type LayerType = 'full_attention' | 'sliding_attention';

/** A validated model configuration (camelCase names of the HF keys). */
export interface ModelConfig {
  /** HF class name; one of SUPPORTED_ARCHITECTURES for the Llama family, another registered family's otherwise. */
  architecture: string;
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Biases on q_proj, k_proj and v_proj. */
  qkvBias: boolean;
  /** Bias on o_proj (Llama's attention_bias sets both; Qwen2 has q/k/v biases only). */
  oBias: boolean;
  /** Biases on gate_proj, up_proj and down_proj (Llama's mlp_bias). */
  mlpBias: boolean;
  /** Attention span in tokens for layers with a sliding window, or null for full causal attention. */
  slidingWindow: number | null;
  /** Per layer, whether it attends fully or through the sliding window (HF's layer_types). */
  layerTypes: LayerType[];
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  torchDtype: DType | null;
}

/** Raised when a config.json cannot describe a supported model; the message names the key. */
export class ConfigError extends ArgumentError {}

type Raw = Record<string, unknown>;

function bad(key: string, what: string, value: unknown): ConfigError {
  return new ConfigError(`Expected ${what} for config key ${key} but received ${describe(value)}`);
}

function int(raw: Raw, key: string, dflt?: number, min = 1): number {
  const v = raw[key] ?? dflt;
  if (typeof v === 'number' && Number.isInteger(v) && v >= min) return v;
  throw bad(key, min === 0 ? 'a non-negative integer' : 'a positive integer', v);
}

function num(raw: Raw, key: string, dflt?: number): number {
  const v = raw[key] ?? dflt;
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  throw bad(key, 'a positive number', v);
}

function bool(raw: Raw, key: string, dflt: boolean): boolean {
  const v = raw[key] ?? dflt;
  if (typeof v === 'boolean') return v;
  throw bad(key, 'true or false', v);
}

function tokenId(raw: Raw, key: string): number | null {
  const v = raw[key];
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  throw bad(key, 'a non-negative integer or null', v);
}

function eosIds(raw: Raw): number[] {
  const v = raw.eos_token_id;
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (list.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) return list as number[];
  throw bad('eos_token_id', 'a non-negative integer or a list of them', v);
}

function architectureOf(raw: Raw): Architecture {
  const supported = Object.keys(SUPPORTED_ARCHITECTURES).join(', ');
  const archs = raw.architectures;
  if (Array.isArray(archs) && archs.length > 0) {
    const found = archs.find((a): a is Architecture => typeof a === 'string' && a in SUPPORTED_ARCHITECTURES);
    if (found) return found;
    throw new ConfigError(`Unsupported architecture ${describe(archs)} in config key architectures; supported: ${supported}`);
  }
  const type = raw.model_type;
  const byType = Object.entries(SUPPORTED_ARCHITECTURES).find(([, t]) => t === type);
  if (byType) return byType[0] as Architecture;
  throw new ConfigError(`Unsupported model_type ${describe(type)} (and no architectures key); supported: ${supported}`);
}

function ropeScalingOf(raw: Raw): RopeScaling | null {
  const key = raw.rope_parameters !== undefined ? 'rope_parameters' : 'rope_scaling';
  const rs = raw[key];
  if (rs === undefined || rs === null) return null;
  if (typeof rs !== 'object' || Array.isArray(rs)) throw bad(key, 'an object or null', rs);
  const r = rs as Raw;
  const kind = r.rope_type ?? r.type;
  if (kind === 'default') return null;
  if (kind === 'linear') return { type: 'linear', factor: num(r, 'factor') };
  if (kind === 'llama3') {
    const scaling: RopeScaling = {
      type: 'llama3',
      factor: num(r, 'factor'),
      lowFreqFactor: num(r, 'low_freq_factor'),
      highFreqFactor: num(r, 'high_freq_factor'),
      originalMaxPositionEmbeddings: int(r, 'original_max_position_embeddings'),
    };
    if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
      throw bad('rope_scaling.high_freq_factor', `a number above low_freq_factor (${scaling.lowFreqFactor})`, scaling.highFreqFactor);
    }
    return scaling;
  }
  throw new ConfigError(
    `Unsupported rope_scaling kind ${describe(kind)} in config key ${key}.rope_type; supported: ${SUPPORTED_ROPE_SCALING.join(', ')}`,
  );
}

const DTYPE_NAMES: Record<string, DType> = { float32: 'float32', float16: 'float16', bfloat16: 'bfloat16', float: 'float32', half: 'float16' };

function dtypeOf(raw: Raw): DType | null {
  const v = raw.torch_dtype ?? raw.dtype;
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' && DTYPE_NAMES[v]) return DTYPE_NAMES[v];
  throw bad('torch_dtype', 'float32, float16 or bfloat16', v);
}

function slidingOf(raw: Raw, modelType: ModelType, layers: number): { slidingWindow: number | null; layerTypes: LayerType[] } {
  const all = (t: LayerType): LayerType[] => new Array<LayerType>(layers).fill(t);
  // Defaults as HF's MistralConfig (sliding_window 4096 when absent, none when null) and Qwen2Config (a window only
  // with use_sliding_window, on layers from max_window_layers = 28 on, unless layer_types lists them).
  if (modelType === 'mistral') {
    const window = raw.sliding_window === null ? null : int(raw, 'sliding_window', 4096);
    return { slidingWindow: window, layerTypes: all(window === null ? 'full_attention' : 'sliding_attention') };
  }
  if (modelType === 'qwen2' && bool(raw, 'use_sliding_window', false)) {
    const window = int(raw, 'sliding_window', 4096);
    const given = raw.layer_types;
    if (given !== undefined && given !== null) {
      if (!Array.isArray(given) || given.length !== layers || !given.every((t) => t === 'full_attention' || t === 'sliding_attention')) {
        throw bad('layer_types', `a list of ${layers} "full_attention" or "sliding_attention"`, given);
      }
      return { slidingWindow: window, layerTypes: given as LayerType[] };
    }
    const from = int(raw, 'max_window_layers', 28, 0);
    return { slidingWindow: window, layerTypes: Array.from({ length: layers }, (_, i) => (i >= from ? 'sliding_attention' : 'full_attention')) };
  }
  return { slidingWindow: null, layerTypes: all('full_attention') };
}

/**
 * Parses a config.json object (or its text) of a Llama, Mistral or Qwen2 causal LM.
 *
 * @example
 * const config = parseConfig(JSON.parse(readFileSync('model/config.json', 'utf8')));
 * config.numKeyValueHeads; // 8 for Llama 3 8B
 */
export function parseConfig(json: unknown): ModelConfig {
  let raw = json;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch (err) {
      throw new ConfigError(`The model config is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`Expected a JSON object for the model config but received ${describe(raw)}`);
  const r = raw as Raw;
  const architecture = architectureOf(r);
  const modelType = SUPPORTED_ARCHITECTURES[architecture];
  const act = r.hidden_act ?? 'silu';
  if (act !== 'silu') throw bad('hidden_act', '"silu" (the SwiGLU MLP of the Llama family)', act);

  const hiddenSize = int(r, 'hidden_size');
  const numAttentionHeads = int(r, 'num_attention_heads');
  const numKeyValueHeads = int(r, 'num_key_value_heads', numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw bad('num_key_value_heads', `a divisor of num_attention_heads (${numAttentionHeads})`, numKeyValueHeads);
  }
  const defaultHeadDim = hiddenSize % numAttentionHeads === 0 ? hiddenSize / numAttentionHeads : undefined;
  const headDim = r.head_dim === null ? int({}, 'head_dim', defaultHeadDim) : int(r, 'head_dim', defaultHeadDim);
  if (headDim % 2 !== 0) throw bad('head_dim', 'an even number (rotary embeddings rotate pairs)', headDim);
  const numHiddenLayers = int(r, 'num_hidden_layers');
  const attentionBias = bool(r, 'attention_bias', false);
  const isQwen = modelType === 'qwen2';
  const cfg: ModelConfig = {
    architecture,
    modelType,
    vocabSize: int(r, 'vocab_size'),
    hiddenSize,
    intermediateSize: int(r, 'intermediate_size'),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: num(r, 'rms_norm_eps', 1e-6),
    // Newer transformers keep rope_theta inside rope_parameters.
    ropeTheta: r.rope_parameters && typeof r.rope_parameters === 'object' && 'rope_theta' in r.rope_parameters
      ? num(r.rope_parameters as Raw, 'rope_theta') : num(r, 'rope_theta', 10000),
    ropeScaling: ropeScalingOf(r),
    maxPositionEmbeddings: int(r, 'max_position_embeddings', 2048),
    tieWordEmbeddings: bool(r, 'tie_word_embeddings', false),
    qkvBias: isQwen ? true : modelType === 'llama' && attentionBias,
    oBias: modelType === 'llama' && attentionBias,
    mlpBias: modelType === 'llama' && bool(r, 'mlp_bias', false),
    ...slidingOf(r, modelType, numHiddenLayers),
    bosTokenId: tokenId(r, 'bos_token_id'),
    eosTokenIds: eosIds(r),
    padTokenId: tokenId(r, 'pad_token_id'),
    torchDtype: dtypeOf(r),
  };
  return cfg;
}

/** The sliding window of decoder layer `layer`, or null when it attends fully. */
export function layerWindow(config: ModelConfig, layer: number): number | null {
  return config.layerTypes[layer] === 'sliding_attention' ? config.slidingWindow : null;
}

/**
 * A config.json object for `config` (snake_case HF keys), so a saved model folder loads in Hugging Face.
 * @example writeFileSync('out/config.json', JSON.stringify(toHfConfig(config), null, 2));
 */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    architectures: [c.architecture],
    model_type: c.modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    num_key_value_heads: c.numKeyValueHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: c.ropeScaling === null ? null
      : c.ropeScaling.type === 'linear' ? { rope_type: 'linear', factor: c.ropeScaling.factor }
      : {
        rope_type: 'llama3',
        factor: c.ropeScaling.factor,
        low_freq_factor: c.ropeScaling.lowFreqFactor,
        high_freq_factor: c.ropeScaling.highFreqFactor,
        original_max_position_embeddings: c.ropeScaling.originalMaxPositionEmbeddings,
      },
    max_position_embeddings: c.maxPositionEmbeddings,
    tie_word_embeddings: c.tieWordEmbeddings,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds,
    pad_token_id: c.padTokenId,
  };
  if (c.modelType === 'llama') Object.assign(out, { attention_bias: c.oBias, mlp_bias: c.mlpBias });
  if (c.modelType === 'mistral') out.sliding_window = c.slidingWindow;
  if (c.modelType === 'qwen2') {
    const firstSliding = c.layerTypes.indexOf('sliding_attention');
    Object.assign(out, {
      use_sliding_window: c.slidingWindow !== null, sliding_window: c.slidingWindow ?? 4096,
      max_window_layers: firstSliding < 0 ? c.numHiddenLayers : firstSliding, layer_types: c.layerTypes,
    });
  }
  if (c.torchDtype) out.torch_dtype = c.torchDtype;
  return out;
}
