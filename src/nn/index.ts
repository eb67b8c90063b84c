// The nn layer's public surface: the Module base and the layers Llama-family models are built from.
export { Module, ModuleList, StateDictError, type LoadResult, type ModuleOptions } from './module.js';
export { Linear, type LinearLike } from './linear.js';
export { Embedding } from './embedding.js';
export { RMSNorm } from './rms-norm.js';
export { LoraLinear, applyLora, mergeLora, withoutLora, type LoraOptions } from './lora.js';
export { freezeExcept } from './freeze.js';
