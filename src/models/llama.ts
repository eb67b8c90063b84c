// The Llama-family causal language model (Llama, Mistral, Qwen2), following Hugging Face's LlamaForCausalLM:
// token embeddings -> N decoder layers (RMSNorm, grouped-query attention with rotary positions, RMSNorm, SwiGLU
// MLP, each with a residual) -> final RMSNorm -> lm_head. Parameter keys equal HF's, so checkpoints load as is.
//
// Shape legend: b = batch, s = new positions in this call, t = all positions attended to (cache + new),
// h = hidden size, nh = attention heads, nkv = key/value heads, hd = head dim, v = vocab size.
import { Embedding } from '../nn/embedding.js';
import { Linear, type LinearLike } from '../nn/linear.js';
import { Module, ModuleList, type ModuleOptions } from '../nn/module.js';
import { RMSNorm } from '../nn/rms-norm.js';
import { arange } from '../tensor/creation.js';
import { ArgumentError, expected } from '../errors.js';
import { noGrad } from '../tensor/autograd.js';
import { buildInfo, fastPaths, getRngState, setRngState } from '../tensor/runtime.js';
import { type AttentionKernel, type AttentionSpan, applyRotaryEmbedding, attentionInParts, cat, linear, scaledDotProductAttention, swiglu } from '../tensor/functional.js';
import { tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { type ModelConfig, layerWindow, parseConfig } from './config.js';
import { KVCache } from './kv-cache.js';
import { RotaryEmbedding } from './rope.js';

/** The attention kernel of a model (HF's attn_implementation): 'sdpa', 'eager', or 'auto' (sdpa where libtorch has it). */
export type AttentionImplementation = AttentionKernel;

/**
 * `value` when it names an attention implementation this libtorch can run; 'sdpa' needs libtorch 2.0 or newer.
 * @example model.attention = checkAttentionImplementation(settings.attention, 'attn_implementation');
 */
export function checkAttentionImplementation(value: unknown, name = 'attention'): AttentionImplementation {
  if (value !== 'auto' && value !== 'eager' && value !== 'sdpa') throw expected("one of auto, eager, sdpa", name, value);
  if (value === 'sdpa' && !fastPaths().sdpa) {
    throw new ArgumentError(`${name} sdpa needs libtorch 2.0 or newer (scaled_dot_product_attention); this addon was built against libtorch ` +
      `${buildInfo().torchVersion}. Use auto or eager, or rebuild against a PyTorch 2.x package (docs/gpu.md)`);
  }
  return value;
}

/** Options of `LlamaForCausalLM.forward`. */
export interface ForwardOptions {
  /** [b, t] 1 for real tokens, 0 for padding (left or right), covering the cached positions too. */
  attentionMask?: Tensor;
  /** [b, s] positions; by default derived from the mask (cumsum - 1, as HF) or counted on from the cache. */
  positionIds?: Tensor;
  /** A cache to read the past from and append this call's keys and values to. */
  cache?: KVCache;
  /** Compute logits only for the last `logitsToKeep` positions (generation needs only the last one). */
  logitsToKeep?: number;
  /**
   * [n] int64 flat positions (row * s + position): compute logits only there, as [n, v] in that order, and the
   * per-row mean of all logits as `logitsMean` (training scores completion tokens only; prompt and padding need no
   * output projection).
   */
  rows?: Tensor;
  /**
   * Padding-free input: `inputIds` [1, T] holds several sequences back to back (see {@link AttentionGroup}); each
   * group attends only within itself. Needs `positionIds`; no mask or cache.
   */
  groups?: AttentionGroup[];
  /** With `rows` and `groups`: [R, T] float32 weights; `logitsMean` is then [R], row r's weighted mean of all logits. */
  rowWeights?: Tensor;
}

/**
 * A contiguous span of a packed [1, T] input that attends only within itself, with its own mask: a sequence (causal),
 * or a pair whose chosen and rejected answers follow their shared prompt (each answer sees the prompt and itself).
 */
export interface AttentionGroup {
  /** First slot and number of slots in the packed sequence. */
  start: number;
  length: number;
  /** bool [1, 1, length, length]: true where a query slot may not see a key slot. */
  blocked: Tensor;
  /** The same with the sliding window applied (by position), for the layers that use one; null without a window. */
  blockedWindow: Tensor | null;
  /**
   * Optional: the group's queries in consecutive parts, each attending to some key ranges of the group only, which
   * gives what `blocked` gives with fewer products (a pair's rejected answer skips the chosen one's keys instead of
   * masking them). The parts tile the group's queries in order.
   */
  parts?: AttentionPart[];
}

/** Part of an {@link AttentionGroup}: queries [queryStart, queryStart + queryLength) of the group against its keys in `keys`. */
export interface AttentionPart {
  queryStart: number;
  queryLength: number;
  /** [start, length] ranges of the group's keys, in order; their keys laid end to end are this part's keys. */
  keys: [number, number][];
  /** bool [1, 1, queryLength, keys]: true where a query may not see a key; the sliding-window variant or null. */
  blocked: Tensor;
  blockedWindow: Tensor | null;
}

/** Options of `LlamaForCausalLM.forwardBackwardCheckpointed`. */
export interface CheckpointedOptions {
  /** [b, s] 1 for real tokens, 0 for padding. */
  attentionMask?: Tensor;
  /** [b, s] positions; by default derived from the mask as in `forward`. */
  positionIds?: Tensor;
  /** Back-propagates `lossScale * loss` (e.g. 1 / gradient accumulation steps); the returned value is unscaled. */
  lossScale?: number;
  /** As in `forward`: the head receives logits [n, v] for these flat positions only, and `logitsMean`. */
  rows?: Tensor;
  /** As in `forward`: a padding-free input and its row weights. */
  groups?: AttentionGroup[];
  rowWeights?: Tensor;
}

/** What `forward` returns. */
export interface ForwardOutput {
  logits: Tensor; // [b, s, v] (or [b, logitsToKeep, v], or [n, v] with `rows`)
  cache: KVCache | null;
  /** With `rows`: [b] the mean of each row's logits over every position and vocabulary entry, without gradient. */
  logitsMean?: Tensor;
}

/** What the head of `forwardBackwardCheckpointed` receives besides the logits. */
export interface HeadExtras {
  /** With `rows`: [b] the mean of each row's logits over every position and vocabulary entry. */
  logitsMean?: Tensor;
}

/**
 * Called around each decoder layer (index i) and around the parameters outside the layers (embeddings, final norm,
 * lm_head: index -1) by `forward` and `forwardBackwardCheckpointed`, so parameters that live elsewhere (sharded over
 * ranks) can be brought in right before they are used and let go right after. -1 brackets the whole call:
 * `beforeForward(-1)` first, then `afterForward(-1)` (forward) or `afterBackward(-1)` (forward and backward) last.
 * In the checkpointed pass each layer runs forward (beforeForward/afterForward) and later its recompute and backward
 * (beforeBackward/afterBackward).
 */
export interface LayerHooks {
  beforeForward(layer: number): void;
  afterForward(layer: number): void;
  beforeBackward(layer: number): void;
  afterBackward(layer: number): void;
}

/** What every layer of one forward call shares: rotary tables and attention masks. */
interface LayerContext {
  cos: Tensor; // [b, 1, s, hd]
  sin: Tensor; // [b, 1, s, hd]
  blocked: Tensor | null; // [b or 1, 1, s, t] true where a query may not see a key (null with groups)
  blockedWindow: Tensor | null; // the same with the sliding window applied, for layers that use one
  groups: AttentionGroup[] | null; // a padding-free input: attention runs group by group
  cache: KVCache | null;
  kernel: AttentionKernel;
}

/** Grouped-query attention with rotary positions (HF's LlamaAttention). */
export class LlamaAttention extends Module {
  qProj: LinearLike;
  kProj: LinearLike;
  vProj: LinearLike;
  oProj: LinearLike;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;

  constructor(readonly config: ModelConfig, readonly layerIndex: number, opts: ModuleOptions = {}) {
    super();
    const { hiddenSize: h, numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: hd } = config;
    this.numHeads = nh;
    this.numKvHeads = nkv;
    this.headDim = hd;
    this.qProj = this.registerModule('q_proj', new Linear(h, nh * hd, { ...opts, bias: config.qkvBias }));
    this.kProj = this.registerModule('k_proj', new Linear(h, nkv * hd, { ...opts, bias: config.qkvBias }));
    this.vProj = this.registerModule('v_proj', new Linear(h, nkv * hd, { ...opts, bias: config.qkvBias }));
    this.oProj = this.registerModule('o_proj', new Linear(nh * hd, h, { ...opts, bias: config.oBias }));
  }

  forward(x: Tensor, ctx: LayerContext): Tensor {
    const [b, s] = x.shape; // x: [b, s, h]
    const { numHeads: nh, numKvHeads: nkv, headDim: hd } = this;
    let q = this.qProj.forward(x).view(b, s, nh, hd).transpose(1, 2); // [b, nh, s, hd]
    let k = this.kProj.forward(x).view(b, s, nkv, hd).transpose(1, 2); // [b, nkv, s, hd]
    let v = this.vProj.forward(x).view(b, s, nkv, hd).transpose(1, 2); // [b, nkv, s, hd]
    q = applyRotaryEmbedding(q, ctx.cos, ctx.sin); // [b, nh, s, hd]
    k = applyRotaryEmbedding(k, ctx.cos, ctx.sin); // [b, nkv, s, hd]
    if (ctx.cache) ({ keys: k, values: v } = ctx.cache.update(this.layerIndex, k, v)); // [b, nkv, t, hd]
    const window = layerWindow(this.config, this.layerIndex);
    const blocked = window !== null && ctx.blockedWindow ? ctx.blockedWindow : ctx.blocked; // [b, 1, s, t]
    // Query head j reads key/value head floor(j / (nh / nkv)); masked scores get the dtype's lowest value and
    // softmax runs in float32, as in HF's eager attention.
    const scale = 1 / Math.sqrt(hd);
    const heads = ctx.groups === null
      ? scaledDotProductAttention(q, k, v, { blocked, scale, kernel: ctx.kernel }) // [b, nh, s, hd]
      : groupAttention(q, k, v, ctx.groups, window !== null, scale, ctx.kernel); // [1, nh, T, hd]
    const out = heads.transpose(1, 2).reshape(b, s, nh * hd); // [b, s, nh * hd]
    return this.oProj.forward(out); // [b, s, h]
  }
}

/**
 * Attention of a padding-free sequence group by group (a group's parts, where it has them, skip the keys its mask
 * would hide). The eager kernel takes all groups in one call; sdpa runs each group's slice.
 */
function groupAttention(q: Tensor, k: Tensor, v: Tensor, groups: AttentionGroup[], windowed: boolean, scale: number, kernel: AttentionKernel): Tensor {
  const mask = (m: { blocked: Tensor; blockedWindow: Tensor | null }): Tensor => (windowed && m.blockedWindow ? m.blockedWindow : m.blocked);
  if (kernel === 'eager' || (kernel === 'auto' && !fastPaths().sdpa)) {
    const spans: AttentionSpan[] = groups.flatMap((g) => (g.parts ?? [{ queryStart: 0, queryLength: g.length, keys: [[0, g.length]], blocked: g.blocked, blockedWindow: g.blockedWindow }])
      .map((p) => ({ queryStart: g.start + p.queryStart, queryLength: p.queryLength, keys: p.keys.map(([a, n]): [number, number] => [g.start + a, n]), blocked: mask(p) })));
    return attentionInParts(q, k, v, spans, { scale });
  }
  const keysOf = (x: Tensor, g: AttentionGroup, ranges: [number, number][]): Tensor => (ranges.length === 1
    ? x.narrow(2, g.start + ranges[0][0], ranges[0][1])
    : cat(ranges.map(([a, n]) => x.narrow(2, g.start + a, n)), 2));
  return cat(groups.flatMap((g) => (g.parts
    ? g.parts.map((p) => scaledDotProductAttention(q.narrow(2, g.start + p.queryStart, p.queryLength), keysOf(k, g, p.keys), keysOf(v, g, p.keys),
      { blocked: mask(p), scale, kernel }))
    : [scaledDotProductAttention(q.narrow(2, g.start, g.length), k.narrow(2, g.start, g.length), v.narrow(2, g.start, g.length),
      { blocked: mask(g), scale, kernel })])), 2);
}

/** The SwiGLU feed-forward block: down(silu(gate(x)) * up(x)). */
export class LlamaMLP extends Module {
  gateProj: LinearLike;
  upProj: LinearLike;
  downProj: LinearLike;

  constructor(config: ModelConfig, opts: ModuleOptions = {}) {
    super();
    const { hiddenSize: h, intermediateSize: i, mlpBias: bias } = config;
    this.gateProj = this.registerModule('gate_proj', new Linear(h, i, { ...opts, bias }));
    this.upProj = this.registerModule('up_proj', new Linear(h, i, { ...opts, bias }));
    this.downProj = this.registerModule('down_proj', new Linear(i, h, { ...opts, bias }));
  }

  forward(x: Tensor): Tensor {
    const gated = swiglu(this.gateProj.forward(x), this.upProj.forward(x)); // silu(gate) * up: [b, s, intermediate]
    return this.downProj.forward(gated); // [b, s, h]
  }
}

/** One pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(.)). */
export class LlamaDecoderLayer extends Module {
  selfAttn: LlamaAttention;
  mlp: LlamaMLP;
  inputLayernorm: RMSNorm;
  postAttentionLayernorm: RMSNorm;

  constructor(config: ModelConfig, layerIndex: number, opts: ModuleOptions = {}) {
    super();
    this.selfAttn = this.registerModule('self_attn', new LlamaAttention(config, layerIndex, opts));
    this.mlp = this.registerModule('mlp', new LlamaMLP(config, opts));
    this.inputLayernorm = this.registerModule('input_layernorm', new RMSNorm(config.hiddenSize, { ...opts, eps: config.rmsNormEps }));
    this.postAttentionLayernorm = this.registerModule('post_attention_layernorm', new RMSNorm(config.hiddenSize, { ...opts, eps: config.rmsNormEps }));
  }

  forward(x: Tensor, ctx: LayerContext): Tensor {
    const h = x.add(this.selfAttn.forward(this.inputLayernorm.forward(x), ctx)); // [b, s, h]
    return h.add(this.mlp.forward(this.postAttentionLayernorm.forward(h))); // [b, s, h]
  }
}

/** The decoder stack without the head (HF's LlamaModel, key prefix `model.`). */
export class LlamaModel extends Module {
  embedTokens: Embedding;
  layers: ModuleList<LlamaDecoderLayer>;
  norm: RMSNorm;

  constructor(config: ModelConfig, opts: ModuleOptions = {}) {
    super();
    this.embedTokens = this.registerModule('embed_tokens', new Embedding(config.vocabSize, config.hiddenSize, opts));
    const layers: LlamaDecoderLayer[] = [];
    for (let i = 0; i < config.numHiddenLayers; i++) layers.push(new LlamaDecoderLayer(config, i, opts));
    this.layers = this.registerModule('layers', new ModuleList(layers));
    this.norm = this.registerModule('norm', new RMSNorm(config.hiddenSize, { ...opts, eps: config.rmsNormEps }));
  }
}

/**
 * A Llama, Mistral or Qwen2 causal LM. Build it from a parsed config (random weights, or `init: 'empty'` before
 * `loadStateDict`), then call `forward`.
 *
 * @example
 * const model = new LlamaForCausalLM(parseConfig(configJson), { dtype: 'bfloat16', init: 'empty' });
 * model.loadStateDict(weights);
 * const { logits } = model.forward(inputIds, { attentionMask }); // [batch, seq, vocab]
 */
export class LlamaForCausalLM extends Module {
  readonly config: ModelConfig;
  model: LlamaModel;
  lmHead: Linear | null; // null when tied: the head reuses model.embed_tokens.weight
  readonly rotary: RotaryEmbedding;
  /** The attention kernel every layer uses (see AttentionImplementation); set it any time between calls. */
  attention: AttentionImplementation = 'auto';
  /**
   * Whether training and log-prob passes may hand this model padding-free batches (`groups`): on by default, off
   * with the recipe key `padding_free: false`. The forward accepts `groups` either way.
   */
  paddingFree = true;
  /** Called around each layer's use (see LayerHooks); null: the parameters are always here. */
  layerHooks: LayerHooks | null = null;

  constructor(config: ModelConfig | Record<string, unknown>, opts: ModuleOptions = {}) {
    super();
    this.config = isModelConfig(config) ? config : parseConfig(config);
    const c = this.config;
    this.model = this.registerModule('model', new LlamaModel(c, opts));
    this.lmHead = c.tieWordEmbeddings ? null : this.registerModule('lm_head', new Linear(c.hiddenSize, c.vocabSize, { ...opts, bias: false }));
    this.rotary = new RotaryEmbedding(c.headDim, c.ropeTheta, c.ropeScaling);
  }

  /** A tied checkpoint may still store lm_head.weight; old ones store rotary buffers. Both are ignored on load. */
  protected override ignoredKeys(): RegExp[] {
    const keys = [/^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/];
    if (this.config.tieWordEmbeddings) keys.push(/^lm_head\.weight$/);
    return keys;
  }

  protected override afterMove(): void {
    this.rotary.dispose();
  }

  /** The output projection's weight [v, h]: lm_head's, or the embedding table when tied. */
  get outputWeight(): Tensor {
    return this.lmHead ? this.lmHead.weight : this.model.embedTokens.weight;
  }

  /**
   * Runs the model on `inputIds` [b, s] (int64) and returns logits [b, s, v] in the model's dtype. With a cache, the
   * past is read from it and this call's keys and values are appended; the mask then covers past and new positions.
   */
  forward(inputIds: Tensor, opts: ForwardOptions = {}): ForwardOutput {
    this.checkInputs(inputIds);
    const cache = opts.cache ?? null;
    if (opts.rows !== undefined && opts.logitsToKeep !== undefined) throw new ArgumentError('Give rows or logitsToKeep to forward, not both');
    const hooks = this.layerHooks;
    hooks?.beforeForward(-1);
    const out = tidy(() => {
      const ctx = this.layerContext(inputIds, opts, cache);
      let hidden = this.model.embedTokens.forward(inputIds); // [b, s, h]
      for (const [i, layer] of [...this.model.layers].entries()) {
        hooks?.beforeForward(i);
        const next = this.runLayer(layer, hidden, ctx); // [b, s, h]
        hooks?.afterForward(i);
        hidden.dispose();
        hidden = next;
      }
      const keep = opts.logitsToKeep;
      if (keep !== undefined && keep < hidden.shape[1]) hidden = hidden.narrow(1, hidden.shape[1] - keep, keep); // [b, keep, h]
      return this.head(this.model.norm.forward(hidden), opts.rows, opts.rowWeights); // [b, s, h] normed
    });
    hooks?.afterForward(-1);
    return { ...out, cache };
  }

  /** lm_head over the final normed hidden states [b, s, h]: every position, or only the flat `rows`. */
  private head(normed: Tensor, rows: Tensor | undefined, rowWeights?: Tensor): { logits: Tensor; logitsMean?: Tensor } {
    if (rows === undefined) return { logits: linear(normed, this.outputWeight) }; // [b, s, v]
    const [b, s, h] = normed.shape;
    if (!(rows instanceof Tensor) || rows.ndim !== 1 || rows.dtype !== 'int64') throw expected('an int64 tensor [n] of flat positions', 'rows', rows);
    const logits = linear(normed.reshape(b * s, h).indexSelect(0, rows), this.outputWeight); // [n, v]
    // mean over positions and vocabulary of normed @ W^T = (mean over positions of normed) . (mean over vocabulary of W)
    // (reduced in the weights' dtype first, so a bfloat16 lm_head is not copied to float32 on every call)
    const logitsMean = noGrad(() => (rowWeights === undefined ? normed.mean(1).float() : rowWeights.matmul(normed.view(s, h).float())) // [b or R, h]
      .matmul(this.outputWeight.mean(0).float())); // [b or R]
    return { logits, logitsMean };
  }

  /**
   * One training forward and backward with per-layer gradient checkpointing: the layers run without autograd,
   * keeping only each layer's input; `head` turns the logits into a scalar loss (with autograd); then each layer is
   * recomputed from its saved input, last to first, and back-propagated alone. Parameter gradients accumulate into
   * `.grad` exactly as `head(forward(ids).logits).backward()` would, while at most one layer's activations are alive.
   * Returns the loss value (not scaled by `lossScale`).
   *
   * @example
   * const loss = model.forwardBackwardCheckpointed(ids, (logits) => crossEntropy(logits.view(-1, v), targets), { attentionMask });
   */
  forwardBackwardCheckpointed(inputIds: Tensor, head: (logits: Tensor, extras: HeadExtras) => Tensor, opts: CheckpointedOptions = {}): number {
    this.checkInputs(inputIds);
    const scale = opts.lossScale ?? 1;
    if (!Number.isFinite(scale)) throw expected('a finite number', 'lossScale', scale);
    const hooks = this.layerHooks;
    hooks?.beforeForward(-1);
    const value = tidy(() => {
      const ctx = this.layerContext(inputIds, opts, null);
      const layers = [...this.model.layers];
      // Each layer's input [b, s, h] and the random state (of the model's device, whose generator dropout draws
      // from) it started from, so dropout (LoRA) replays exactly.
      const device = this.outputWeight.device;
      const saved: { input: Tensor; rng: Tensor }[] = [];
      let hidden = noGrad(() => this.model.embedTokens.forward(inputIds)); // [b, s, h]
      for (const [i, layer] of layers.entries()) {
        saved.push({ input: hidden, rng: getRngState(device) });
        const x = hidden;
        hooks?.beforeForward(i);
        hidden = noGrad(() => this.runLayer(layer, x, ctx)); // [b, s, h]
        hooks?.afterForward(i);
      }
      const top = hidden.requiresGrad_(true); // a leaf: the head's backward stops here
      const value = tidy(() => {
        const { logits, logitsMean } = this.head(this.model.norm.forward(top), opts.rows, opts.rowWeights); // [b, s, v] or [n, v]
        const loss = head(logits, { logitsMean }); // []
        if (!(loss instanceof Tensor) || loss.numel() !== 1) throw expected('a scalar loss tensor', 'head(logits)', loss);
        const v = loss.item();
        (scale === 1 ? loss : loss.mul(scale)).backward();
        return v;
      });
      const after = getRngState(device);
      let grad = top.grad as Tensor; // [b, s, h] d(scaled loss)/d(last hidden state)
      top.dispose();
      for (let i = layers.length - 1; i >= 0; i--) {
        const { input, rng } = saved[i];
        input.requiresGrad_(true);
        setRngState(rng, device);
        const g = grad;
        hooks?.beforeBackward(i);
        tidy(() => this.runLayer(layers[i], input, ctx).backward(g));
        hooks?.afterBackward(i);
        grad.dispose();
        grad = input.grad as Tensor; // [b, s, h]
        input.dispose();
        rng.dispose();
      }
      setRngState(after, device);
      const g = grad;
      if (this.model.embedTokens.weight.requiresGrad) tidy(() => this.model.embedTokens.forward(inputIds).backward(g));
      return value;
    });
    hooks?.afterBackward(-1);
    return value;
  }

  /** Rejects inputs `forward` cannot run. */
  private checkInputs(inputIds: Tensor): void {
    if (!(inputIds instanceof Tensor) || inputIds.ndim !== 2 || (inputIds.dtype !== 'int64' && inputIds.dtype !== 'int32')) {
      throw expected('an int64 tensor [batch, seq]', 'inputIds', inputIds);
    }
    const w = this.outputWeight;
    if (w.dtype === 'float16' && w.device === 'cpu' && !cpuHalfMatmul()) {
      throw new ArgumentError(
        "This libtorch has no float16 matrix products on CPU; convert the model with model.to('bfloat16') or " +
          "model.to('float32'), or move it to CUDA with model.to('cuda')",
      );
    }
  }

  /**
   * Runs one decoder layer in its own scope, so its intermediates are freed at once (autograd keeps what backward
   * needs). The seam for per-layer gradient checkpointing.
   */
  protected runLayer(layer: LlamaDecoderLayer, hidden: Tensor, ctx: LayerContext): Tensor {
    return tidy(() => layer.forward(hidden, ctx));
  }

  /** Positions, rotary tables and masks shared by all layers of one call. */
  private layerContext(inputIds: Tensor, opts: ForwardOptions, cache: KVCache | null): LayerContext {
    const [b, s] = inputIds.shape;
    const past = cache?.length ?? 0;
    const t = past + s;
    const device = this.outputWeight.device;
    const mask = opts.attentionMask;
    if (mask !== undefined) {
      if (!(mask instanceof Tensor) || mask.ndim !== 2 || mask.shape[0] !== b || mask.shape[1] !== t) {
        throw expected(`an attention mask of shape [${b}, ${t}] (batch, cached + new positions)`, 'attentionMask', mask);
      }
    }
    if (opts.logitsToKeep !== undefined && !(Number.isInteger(opts.logitsToKeep) && opts.logitsToKeep > 0)) {
      throw expected('a positive integer', 'logitsToKeep', opts.logitsToKeep);
    }
    const positionIds = opts.positionIds ?? this.defaultPositions(b, s, past, mask); // [b, s]
    if (!(positionIds instanceof Tensor) || positionIds.ndim !== 2 || positionIds.shape[0] !== b || positionIds.shape[1] !== s) {
      throw expected(`position ids of shape [${b}, ${s}]`, 'positionIds', positionIds);
    }
    const { cos, sin } = this.rotary.tables(positionIds, this.outputWeight.dtype, device); // [b, 1, s, hd] each
    if (opts.groups !== undefined) {
      if (b !== 1 || mask !== undefined || cache !== null || opts.positionIds === undefined) {
        throw new ArgumentError('A padding-free forward (groups) takes inputIds [1, T] and positionIds, without attentionMask or cache');
      }
      const ends = opts.groups.every((g, i) => g.start === (i === 0 ? 0 : opts.groups![i - 1].start + opts.groups![i - 1].length));
      const total = opts.groups.reduce((a, g) => a + g.length, 0);
      if (!ends || total !== s) throw expected(`attention groups that tile the ${s} packed positions in order`, 'groups', opts.groups.map((g) => [g.start, g.length]));
      if (this.config.slidingWindow !== null && opts.groups.some((g) => g.blockedWindow === null)) {
        throw new ArgumentError('This model uses a sliding window: every attention group needs blockedWindow');
      }
      return { cos, sin, blocked: null, blockedWindow: null, groups: opts.groups, cache, kernel: this.attention };
    }

    const queryPos = arange(past, t, 1, { device }).unsqueeze(1); // [s, 1] slot index of each query
    const keyPos = arange(0, t, 1, { device }).unsqueeze(0); // [1, t]
    let blocked = keyPos.gt(queryPos).view(1, 1, s, t); // [1, 1, s, t] causal
    if (mask !== undefined) blocked = blocked.logicalOr(mask.eq(0).view(b, 1, 1, t)); // [b, 1, s, t]
    const window = this.config.slidingWindow;
    // A window of w lets query i see keys i-w+1 .. i (HF: kv_idx > q_idx - sliding_window), by slot index.
    const blockedWindow = window === null ? null : blocked.logicalOr(keyPos.le(queryPos.sub(window))); // [b, 1, s, t]
    return { cos, sin, blocked, blockedWindow, groups: null, cache, kernel: this.attention };
  }

  /** HF's rule: with a mask, position = (number of real tokens so far) - 1, and 1 on padding; else count on. */
  private defaultPositions(b: number, s: number, past: number, mask: Tensor | undefined): Tensor {
    if (mask === undefined) return arange(past, past + s, 1, { device: this.outputWeight.device }).unsqueeze(0).expand(b, s); // [b, s]
    const m = mask.to('int64'); // [b, t]
    const pos = m.cumsum(-1).sub(1).maskedFill(m.eq(0), 1); // [b, t]
    return pos.narrow(1, past, s); // [b, s]
  }
}

let halfOnCpu: boolean | undefined;
/** Whether libtorch multiplies float16 matrices on CPU (from version 2 on). */
function cpuHalfMatmul(): boolean {
  return (halfOnCpu ??= Number(buildInfo().torchVersion.split('.')[0]) >= 2);
}

function isModelConfig(c: unknown): c is ModelConfig {
  return typeof c === 'object' && c !== null && 'hiddenSize' in c && 'modelType' in c;
}
