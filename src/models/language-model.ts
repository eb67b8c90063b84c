// The interface every model family's causal LM implements; loading, generation, evaluation and the CLI use it.
// (train/'s CausalLM is the structural subset training needs; every LanguageModel satisfies it.)
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ModelConfig } from './config.js';
import type { AttentionImplementation, CheckpointedOptions, ForwardOptions, ForwardOutput, HeadExtras } from './llama.js';

/**
 * A decoder-only language model: a Module (parameters, state dict, dtype/device moves, dispose) with its parsed
 * config, a forward that honours attention masks, `rows` and a KV cache, and its output projection weight.
 */
export interface LanguageModel extends Module {
  readonly config: ModelConfig;
  /** The output projection's weight [vocab, hidden] (the embedding table when tied). */
  readonly outputWeight: Tensor;
  /** The attention kernel, for models that offer a choice ('auto' takes libtorch's fused kernel where it exists). */
  attention?: AttentionImplementation;
  /** logits [b, s, v] (or [n, v] for `rows`) from `inputIds` [b, s] int64. */
  forward(inputIds: Tensor, opts?: ForwardOptions): ForwardOutput;
  /** Whether the training and log-prob steps hand it padding-free batches (forward `groups`); optional. */
  paddingFree?: boolean;
  /** Forward, head and backward with per-layer recomputation; optional (only for gradient checkpointing). */
  forwardBackwardCheckpointed?(inputIds: Tensor, head: (logits: Tensor, extras: HeadExtras) => Tensor, opts?: CheckpointedOptions): number;
}
