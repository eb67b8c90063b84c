// Registry entries for the families the Llama implementation covers: Llama, Mistral (sliding window) and Qwen2
// (q/k/v biases, optional sliding window). Their config mapping is config.ts's parseConfig / toHfConfig.
import { parseConfig, toHfConfig } from './config.js';
import type { ModelFamily } from './families.js';
import { LlamaForCausalLM } from './llama.js';

const common: Pick<ModelFamily, 'parseConfig' | 'toHfConfig' | 'create'> = { parseConfig, toHfConfig, create: (c, o) => new LlamaForCausalLM(c, o) };

/** Llama 1-3 (attention_bias, mlp_bias, llama3/linear rope scaling). GGUF stores Q/K rows permuted. */
export const LLAMA: ModelFamily = { ...common, architectures: ['LlamaForCausalLM'], modelTypes: ['llama'], gguf: { name: 'llama', hfClasses: ['LlamaForCausalLM', 'MistralForCausalLM'], hfClass: 'LlamaForCausalLM', modelType: 'llama', permuteQk: true } };
/** Mistral: Llama with a sliding attention window (config key sliding_window). Exported to GGUF as `llama`. */
export const MISTRAL: ModelFamily = { ...common, architectures: ['MistralForCausalLM'], modelTypes: ['mistral'] };
/** Qwen2: biases on q/k/v, sliding window on layers from max_window_layers when use_sliding_window. */
export const QWEN2: ModelFamily = { ...common, architectures: ['Qwen2ForCausalLM'], modelTypes: ['qwen2'], gguf: { name: 'qwen2', hfClasses: ['Qwen2ForCausalLM'], hfClass: 'Qwen2ForCausalLM', modelType: 'qwen2', permuteQk: false } };
