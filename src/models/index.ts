// The models layer's public surface: config parsing, the Llama-family causal LM, its KV cache, and generation.
export {
  parseConfig, toHfConfig, layerWindow, ConfigError, SUPPORTED_ARCHITECTURES, SUPPORTED_ROPE_SCALING,
  type ModelConfig, type RopeScaling, type Architecture, type ModelType, type LayerType,
} from './config.js';
export {
  LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, LlamaAttention, LlamaMLP, type ForwardOptions, type ForwardOutput,
} from './llama.js';
export { KVCache } from './kv-cache.js';
export { RotaryEmbedding, ropeInverseFrequencies } from './rope.js';
export {
  generate, chooseNextTokens, type GenerateOptions, type GenerateResult, type GenerationStep, type FinishReason,
  type SamplingOptions,
} from './generate.js';
export { loadPretrained, savePretrained, writeModelFiles, type Pretrained, type PretrainedOptions, type SaveOptions } from './pretrained.js';
