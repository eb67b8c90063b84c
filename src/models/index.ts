// The models layer's public surface: the model-family registry and LanguageModel interface, config parsing, the
// Llama-family causal LM, its KV cache, generation, pretrained loading and GGUF conversion.
export {
  parseConfig, toHfConfig, layerWindow, ConfigError, SUPPORTED_ARCHITECTURES, SUPPORTED_ROPE_SCALING,
  type ModelConfig, type RopeScaling, type Architecture, type ModelType, type LayerType,
} from './config.js';
export {
  LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, LlamaAttention, LlamaMLP, type ForwardOptions, type ForwardOutput,
  type CheckpointedOptions, type HeadExtras, type AttentionImplementation, checkAttentionImplementation,
} from './llama.js';
export { KVCache } from './kv-cache.js';
export { RotaryEmbedding, ropeInverseFrequencies } from './rope.js';
export {
  generate, chooseNextTokens, type GenerateOptions, type GenerateResult, type GenerationStep, type FinishReason,
  type SamplingOptions,
} from './generate.js';
export { loadPretrained, loadPretrainedAsync, savePretrained, savePretrainedAsync, writeModelFiles, writeModelFilesAsync, type Pretrained, type PretrainedOptions, type SaveOptions } from './pretrained.js';
export type { LanguageModel } from './language-model.js';
export { type AdapterConfig, isAdapterFolder, readAdapterConfig, mergeAdapterInto } from './peft-adapter.js';
export {
  type ModelFamily, BUILTIN_FAMILIES, registerFamily, registeredArchitectures, ggufArchs, familyOf, familyOfConfig, parseFamilyConfig,
  createModel,
} from './registry.js';
export { LLAMA, MISTRAL, QWEN2 } from './llama-family.js';
export { ggufToHf, writeGgufFromHf, ggufToHfFolder, hfFolderToGguf } from './gguf.js';
