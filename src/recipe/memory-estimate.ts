// A training run's memory from the model's config.json alone (no weights read): weights, gradients, optimizer
// states, master weights, reference copy and activations, each in bytes (`bfpo train --dry-run` prints them).
import type { ModelConfig } from '../models/config.js';

/** One named parameter of a Llama-family model and its element count (Hugging Face names). */
export interface ParameterShape { name: string; numel: number; in: number; out: number }

/** The parameters a config describes, with the names `namedParameters()` yields; biases have `in` 1. */
export function parameterShapes(c: ModelConfig): ParameterShape[] {
  const h = c.hiddenSize, hd = c.headDim, nh = c.numAttentionHeads, nkv = c.numKeyValueHeads, im = c.intermediateSize;
  const out: ParameterShape[] = [];
  const w = (name: string, inF: number, outF: number): void => { out.push({ name: `${name}.weight`, numel: inF * outF, in: inF, out: outF }); };
  const b = (name: string, n: number): void => { out.push({ name: `${name}.bias`, numel: n, in: 1, out: n }); };
  out.push({ name: 'model.embed_tokens.weight', numel: c.vocabSize * h, in: c.vocabSize, out: h });
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    const lin = (name: string, inF: number, outF: number, bias: boolean): void => { w(`${p}.${name}`, inF, outF); if (bias) b(`${p}.${name}`, outF); };
    lin('self_attn.q_proj', h, nh * hd, c.qkvBias);
    lin('self_attn.k_proj', h, nkv * hd, c.qkvBias);
    lin('self_attn.v_proj', h, nkv * hd, c.qkvBias);
    lin('self_attn.o_proj', nh * hd, h, c.oBias);
    lin('mlp.gate_proj', h, im, c.mlpBias);
    lin('mlp.up_proj', h, im, c.mlpBias);
    lin('mlp.down_proj', im, h, c.mlpBias);
    out.push({ name: `${p}.input_layernorm.weight`, numel: h, in: 1, out: h });
    out.push({ name: `${p}.post_attention_layernorm.weight`, numel: h, in: 1, out: h });
  }
  out.push({ name: 'model.norm.weight', numel: h, in: 1, out: h });
  if (!c.tieWordEmbeddings) w('lm_head', h, c.vocabSize);
  return out;
}

/** What trains: every parameter, those whose name contains a fragment (use_selective), or LoRA adapters. */
export type TrainableSpec =
  | { kind: 'all' }
  | { kind: 'selected'; fragments: readonly string[] }
  | { kind: 'lora'; r: number; targets: readonly string[] };

/** The inputs of {@link estimateMemory}. */
export interface MemoryEstimateInput {
  config: ModelConfig;
  /** Bytes per stored weight: 4 for float32, 2 for bfloat16 / float16. */
  weightBytes: number;
  /** bf16: true keeps a float32 master copy of every trainable parameter (its optimizer states are float32 too). */
  masterWeights: boolean;
  trainable: TrainableSpec;
  /** Optimizer states per trainable parameter (AdamW 2, SGD with momentum 1, SGD without 0; see optimizerStates). */
  optimizerStates: number;
  /** copy keeps a second, frozen set of weights; precomputed and adapter keep none. */
  reference: 'copy' | 'precomputed' | 'adapter' | 'none';
  /** Sequences in one forward pass (a preference pair counts 2; the buffer batch adds its own). */
  sequences: number;
  /** Tokens per sequence (max_length, or max_seq_length for SFT). */
  seqLen: number;
  gradientCheckpointing: boolean;
  /** Ranks the run is split over (default 1) and what each keeps (`sharding` recipe key, default none). */
  ranks?: number;
  sharding?: 'none' | 'optimizer' | 'full';
}

/** One term of the estimate. */
export interface MemoryTerm { name: string; bytes: number }

/** The estimate: its terms, their sum, and the parameter counts. */
export interface MemoryEstimate { terms: MemoryTerm[]; totalBytes: number; parameters: number; trainableParameters: number }

/** Optimizer states per trainable parameter of an `optim` value: Adam/AdamW 2, RMSprop 1 (+1 with momentum), SGD 1 with momentum else 0. */
export function optimizerStates(optim: string, momentum: number): number {
  if (optim.startsWith('adam')) return 2;
  if (optim === 'rmsprop') return momentum > 0 ? 2 : 1;
  return momentum > 0 ? 1 : 0;
}

/**
 * Estimates a training run's memory in bytes. Every term is written out so a user can check it:
 * - weights: parameters × weightBytes (LoRA adds its adapters, r × (in + out) per targeted linear, in float32);
 * - gradients: trainable parameters × their bytes (weightBytes, float32 for LoRA adapters);
 * - master weights (bf16): trainable parameters × 4;
 * - optimizer states: trainable parameters × optimizerStates × 4 (states are float32 with master weights or LoRA,
 *   else in the weight dtype);
 * - reference (copy): parameters × weightBytes again;
 * - activations, elements per token of one decoder layer a = 4·H + (nh + 2·nkv)·hd + nh·hd + 3·I
 *   (two norms' inputs and outputs, q/k/v, the attention output, gate/up/product of the MLP; the [S, S] attention
 *   probabilities are not kept: the sdpa kernels never store them and the eager kernel computes them again in the
 *   backward pass, one layer at a time); without checkpointing B·S·L·a elements, with it B·S·L·H (each layer's input)
 *   plus B·S·a (one layer recomputed); elements take weightBytes; plus the logits B·S·V twice (logits and their
 *   log-softmax) in float32. B = sequences, S = seqLen, L layers, H hidden, I intermediate, V vocabulary.
 * It leaves out the allocator's slack, libtorch's workspace and temporary buffers, so a real run needs somewhat more.
 */
export function estimateMemory(x: MemoryEstimateInput): MemoryEstimate {
  const c = x.config;
  const shapes = parameterShapes(c);
  const parameters = shapes.reduce((s, p) => s + p.numel, 0);
  let trainable = 0;
  let adapters = 0;
  const t = x.trainable;
  if (t.kind === 'all') trainable = parameters;
  else if (t.kind === 'selected') trainable = shapes.filter((p) => t.fragments.some((f) => p.name.includes(f))).reduce((s, p) => s + p.numel, 0);
  else {
    adapters = shapes.filter((p) => p.name.endsWith('.weight') && p.in > 1 && t.targets.some((m) => p.name.endsWith(`.${m}.weight`)))
      .reduce((s, p) => s + t.r * (p.in + p.out), 0);
    trainable = adapters;
  }
  const lora = t.kind === 'lora';
  const gradBytes = lora ? 4 : x.weightBytes;
  const stateBytes = lora || x.masterWeights ? 4 : x.weightBytes;
  // Per rank, with sharding over N ranks (what the implementation keeps; docs/distributed.md): `optimizer` splits
  // the optimizer states and fp32 masters (the gradients exist whole during the backward pass); `full` splits the
  // weights (each rank holds its share, plus the others' parameters outside the layers and of one layer while it
  // runs), the gradients (its share, plus one layer's being reduced) and the reference copy the same way.
  const N = Math.max(1, x.ranks ?? 1);
  const sharding = N > 1 ? x.sharding ?? 'none' : 'none';
  const split = sharding === 'none' ? 1 : N;
  const layerSize = (l: number): number => shapes.filter((p) => p.name.startsWith(`model.layers.${l}.`)).reduce((a, p) => a + p.numel, 0);
  const oneLayer = c.numHiddenLayers > 0 ? layerSize(0) : 0;
  const outer = parameters - oneLayer * c.numHiddenLayers;
  const heldParams = sharding === 'full' ? parameters / N + ((outer + oneLayer) * (N - 1)) / N : parameters;
  const trainableShare = trainable === parameters ? 1 : trainable / Math.max(parameters, 1);
  const heldGrads = sharding === 'full' ? trainable / N + oneLayer * trainableShare : trainable;
  const h = c.hiddenSize, L = c.numHiddenLayers, S = x.seqLen, B = x.sequences;
  const perToken = 4 * h + (c.numAttentionHeads + 2 * c.numKeyValueHeads) * c.headDim + c.numAttentionHeads * c.headDim +
    3 * c.intermediateSize;
  const layerElems = x.gradientCheckpointing ? B * S * L * h + B * S * perToken : B * S * L * perToken;
  const terms: MemoryTerm[] = [
    { name: 'weights', bytes: heldParams * x.weightBytes + (adapters * 4) / (sharding === 'full' ? N : 1) },
    { name: 'gradients', bytes: heldGrads * gradBytes },
    { name: 'master weights', bytes: x.masterWeights && !lora ? (trainable * 4) / split : 0 },
    { name: 'optimizer states', bytes: (trainable * x.optimizerStates * stateBytes) / split },
    { name: 'reference copy', bytes: x.reference === 'copy' ? heldParams * x.weightBytes : 0 },
    { name: 'activations', bytes: layerElems * x.weightBytes + 2 * B * S * c.vocabSize * 4 },
  ];
  return { terms, totalBytes: terms.reduce((s, e) => s + e.bytes, 0), parameters, trainableParameters: trainable };
}

/** Bytes as GiB with two decimals, and as MiB below 1 GiB. */
export const gib = (bytes: number): string =>
  `${(bytes / 2 ** 30).toFixed(2)} GiB${bytes < 2 ** 30 ? ` (${(bytes / 2 ** 20).toFixed(2)} MiB)` : ''}`;

/** The estimate as lines: each term, then the total. */
export function formatMemoryEstimate(e: MemoryEstimate): string[] {
  const w = Math.max(...e.terms.map((t) => t.name.length), 'total'.length);
  return [
    `parameters ${e.parameters.toLocaleString('en-US')}, trainable ${e.trainableParameters.toLocaleString('en-US')}`,
    ...e.terms.map((t) => `${t.name.padEnd(w)}  ${gib(t.bytes)}`),
    `${'total'.padEnd(w)}  ${gib(e.totalBytes)}`,
  ];
}
