// Implements the evaluation's model interfaces (ChatModel, LogLikelihoodScorer, YesNoScorer) over a local
// Llama-family model and its tokenizer, and loads them from Hugging Face folders.
import { FormatError } from '../io/errors.js';
import type { Tokenizer } from '../io/tokenizer.js';
import { generate } from '../models/generate.js';
import { KVCache } from '../models/kv-cache.js';
import type { LanguageModel } from '../models/language-model.js';
import { loadPretrained } from '../models/pretrained.js';
import { inferenceMode } from '../tensor/autograd.js';
import type { Device, DType } from '../tensor/dtype.js';
import { tensor } from '../tensor/creation.js';
import { keep, tidy } from '../tensor/scope.js';
import { cat } from '../tensor/functional.js';
import type { Tensor } from '../tensor/tensor.js';
import { generateTexts, LocalCompleter } from './completion.js';
import type { EvalModel, ModelSource } from './runner.js';
import { splitContinuation, yesNoTokenIds, type EvalTokenizer } from './tokens.js';
import type {
  ChatModel, ContinuationPair, ContinuationScore, GenerationSettings, LogLikelihoodScorer, Message, YesNoProbabilities, YesNoScorer,
} from './types.js';

/**
 * Answers conversations with a local model: chat template, left-padded batch, KV cache, the given sampling settings
 * (temperature 0 means greedy). Stops at the model's and the tokenizer's EOS tokens.
 *
 * @example const [answer] = await new LocalChatModel(model, tokenizer).generate([[{ role: 'user', content: 'Hi' }]], SAFETY_SAMPLING);
 */
export class LocalChatModel implements ChatModel {
  constructor(readonly model: LanguageModel, readonly tokenizer: EvalTokenizer) {}

  async generate(batch: Message[][], s: GenerationSettings): Promise<string[]> {
    const prompts = batch.map((messages) =>
      this.tokenizer.encode(this.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, tokenize: false }), { addSpecialTokens: false }));
    return generateTexts(this.model, this.tokenizer, prompts, s).map((t) => t.trim());
  }
}

/** How LocalScorer batches: share each context's forward among its continuations, and remember scores. */
export interface LocalScorerOptions {
  /** Questions' contexts run once, their continuations read the context's keys and values (default true). */
  shareContexts?: boolean;
  /** Remember each (context, continuation)'s score for the scorer's lifetime (default true). */
  cache?: boolean;
}

/** Counts of a LocalScorer's work, for tests and benchmarks. */
export interface LocalScorerStats {
  /** Model forward calls. */
  forwards: number;
  /** Input positions run through the model, padding included (cached positions that are only attended to excluded). */
  positions: number;
  /** Pairs answered from the cache (repeats within a call included). */
  cacheHits: number;
}

/**
 * Scores continuations by summed log-probability with a local model (no autograd), splitting context and continuation
 * tokens as lm-evaluation-harness does. By default continuations that share a context (the same context tokens) are
 * scored together: one forward runs each distinct context once (all but its last token), a second runs every
 * continuation on top of its context's keys and values, so a multiple-choice call costs two forwards however many
 * questions and choices it holds, and each context token is computed once. Scores are cached per (context,
 * continuation). With `shareContexts: false` every pair is one right-padded row of a plain batch.
 *
 * @example const [s] = await new LocalScorer(model, tokenizer).score([{ context: 'The sky is', continuation: ' blue' }]);
 */
export class LocalScorer implements LogLikelihoodScorer {
  readonly stats: LocalScorerStats = { forwards: 0, positions: 0, cacheHits: 0 };
  private readonly memo = new Map<string, ContinuationScore>();

  constructor(readonly model: LanguageModel, readonly tokenizer: EvalTokenizer, readonly batchSize = 8, readonly options: LocalScorerOptions = {}) {}

  async score(pairs: ContinuationPair[]): Promise<ContinuationScore[]> {
    const useCache = this.options.cache ?? true;
    const share = this.options.shareContexts ?? true;
    const key = (p: ContinuationPair) => JSON.stringify([p.context, p.continuation]);
    // Distinct pairs not yet scored, in order of first appearance.
    const todo = new Map<string, ContinuationPair>();
    for (const p of pairs) {
      const k = key(p);
      if ((useCache && this.memo.has(k)) || todo.has(k)) this.stats.cacheHits++;
      else todo.set(k, p);
    }
    const fresh = new Map<string, ContinuationScore>();
    const list = [...todo.entries()];
    // An empty continuation has log-likelihood 0 and is trivially greedy (as lm-eval scores it); no forward needed.
    const all = list.map(([k, p]) => ({ k, p, ...splitContinuation(this.tokenizer, p) }));
    for (const x of all) if (x.continuationIds.length === 0) fresh.set(x.k, { logprob: 0, isGreedy: true, tokens: 0 });
    const scored = all.filter((x) => x.continuationIds.length > 0);
    if (share) {
      // Chunks of pairs whose contexts number at most batchSize, so a call holds about batchSize questions.
      for (let i = 0; i < scored.length;) {
        const contexts = new Set<string>();
        let j = i;
        while (j < scored.length) {
          const c = scored[j].contextIds.join(',');
          if (!contexts.has(c) && contexts.size === this.batchSize) break;
          contexts.add(c);
          j++;
        }
        const part = scored.slice(i, j);
        // A sliding window counts cache slots, and a short context's padding would shift them: such a model scores
        // chunks that could reach the window on the plain path.
        const window = this.model.config.slidingWindow;
        const longest = Math.max(...part.map((x) => x.contextIds.length + x.continuationIds.length));
        if (window !== null && 2 * longest >= window) this.scoreRows(part.map((x) => x.p)).forEach((sc, n) => fresh.set(part[n].k, sc));
        else this.scoreShared(part).forEach((sc, n) => fresh.set(part[n].k, sc));
        i = j;
      }
    } else {
      for (let i = 0; i < scored.length; i += this.batchSize) {
        const part = scored.slice(i, i + this.batchSize);
        this.scoreRows(part.map((x) => x.p)).forEach((sc, n) => fresh.set(part[n].k, sc));
      }
    }
    if (useCache) for (const [k, sc] of fresh) this.memo.set(k, sc);
    return pairs.map((p) => fresh.get(key(p)) ?? this.memo.get(key(p))!);
  }

  /** Log-probability, greedy check and length of `targets` under log-probabilities `lp` [n, v] (one row each). */
  private readScore(lp: Tensor, targets: number[]): ContinuationScore {
    const target = tensor(targets, { dtype: 'int64', device: this.model.device }).unsqueeze(1); // [n, 1]
    const logprob = lp.gather(1, target).sum().item() as number;
    const greedy = lp.argmax(-1).toArray() as number[];
    return { logprob, isGreedy: greedy.every((t, k) => t === targets[k]), tokens: targets.length };
  }

  /** The plain path: each pair one right-padded row, context and continuation together. */
  private scoreRows(pairs: ContinuationPair[]): ContinuationScore[] {
    const split = pairs.map((p) => splitContinuation(this.tokenizer, p));
    // The model reads every token but the last and predicts every token but the first.
    const rows = split.map(({ contextIds, continuationIds }) => [...contextIds, ...continuationIds].slice(0, -1));
    const width = Math.max(...rows.map((r) => r.length));
    const pad = this.padId();
    const ids = rows.map((r) => [...r, ...new Array<number>(width - r.length).fill(pad)]);
    const mask = rows.map((r) => [...r.map(() => 1), ...new Array<number>(width - r.length).fill(0)]);
    const device = this.model.device;
    this.stats.forwards++;
    this.stats.positions += rows.length * width;
    return inferenceMode(() => tidy(() => {
      const { logits } = this.model.forward(tensor(ids, { dtype: 'int64', device }), { attentionMask: tensor(mask, { dtype: 'int64', device }) }); // [b, s, v]
      return split.map(({ continuationIds }, r) => tidy(() => {
        const n = continuationIds.length;
        const start = rows[r].length - n; // the positions whose next token is a continuation token
        return this.readScore(logits.select(0, r).narrow(0, start, n).to('float32').logSoftmax(-1), continuationIds); // [n, v]
      }));
    }));
  }

  /**
   * The shared path. Each distinct context's tokens but the last (its prefix) form one right-padded row of a first
   * forward, whose keys and values are kept; each continuation row is then the context's last token followed by the
   * continuation's tokens but the last, run on top of its context's prefix (the prefix's padding masked out).
   */
  private scoreShared(part: { contextIds: number[]; continuationIds: number[] }[]): ContinuationScore[] {
    const groups = new Map<string, number>();
    const prefixes: number[][] = [];
    const groupOf = part.map(({ contextIds }) => {
      const c = contextIds.join(',');
      if (!groups.has(c)) {
        groups.set(c, prefixes.length);
        prefixes.push(contextIds.slice(0, -1));
      }
      return groups.get(c)!;
    });
    const rows = part.map(({ contextIds, continuationIds }) => [...contextIds.slice(-1), ...continuationIds.slice(0, -1)]);
    const pw = Math.max(...prefixes.map((p) => p.length));
    const rw = Math.max(...rows.map((r) => r.length));
    const pad = this.padId();
    const device = this.model.device;
    const int64 = (x: number[][]) => tensor(x, { dtype: 'int64', device });
    const padded = (r: number[], w: number) => [...r, ...new Array<number>(w - r.length).fill(pad)];
    const ones = (r: number[], w: number) => [...r.map(() => 1), ...new Array<number>(w - r.length).fill(0)];
    return inferenceMode(() => tidy(() => {
      const cache = new SharedPrefixCache();
      try {
        if (pw > 0) {
          this.stats.forwards++;
          this.stats.positions += prefixes.length * pw;
          const prefixMask = prefixes.map((p) => ones(p, pw));
          tidy(() => this.model.forward(int64(prefixes.map((p) => padded(p, pw))), { attentionMask: int64(prefixMask), cache, logitsToKeep: 1 }));
          cache.share(int64([groupOf]).squeeze(0), pw);
        }
        this.stats.forwards++;
        this.stats.positions += rows.length * rw;
        const mask = rows.map((r, i) => [...(pw > 0 ? ones(prefixes[groupOf[i]], pw) : []), ...ones(r, rw)]);
        const { logits } = this.model.forward(int64(rows.map((r) => padded(r, rw))), { attentionMask: int64(mask), ...(pw > 0 ? { cache } : {}) }); // [rows, rw, v]
        return part.map(({ continuationIds }, r) => tidy(() =>
          this.readScore(logits.select(0, r).narrow(0, 0, continuationIds.length).to('float32').logSoftmax(-1), continuationIds)));
      } finally {
        cache.dispose();
      }
    }));
  }

  private padId(): number {
    return this.tokenizer.padTokenId ?? this.tokenizer.eosTokenId ?? 0;
  }
}

/**
 * A KV cache for scoring: during a first forward it keeps each layer's keys and values (the distinct contexts'
 * prefixes, one row each); after `share(rowGroup, width)` a forward's rows read the prefix of their group
 * (`rowGroup[i]`) in front of their own keys and values. Nothing is appended after the first forward.
 */
class SharedPrefixCache extends KVCache {
  private keys: Tensor[] = [];
  private values: Tensor[] = [];
  private rowGroup: Tensor | null = null;
  private width = 0;

  override get length(): number {
    return this.width;
  }

  /** Ends the recording: later forwards' rows read prefixes `rowGroup` [rows] of `width` positions. */
  share(rowGroup: Tensor, width: number): void {
    this.rowGroup = keep(rowGroup);
    this.width = width;
  }

  override update(layer: number, k: Tensor, v: Tensor): { keys: Tensor; values: Tensor } {
    if (this.rowGroup === null) {
      this.keys[layer] = keep(k.clone());
      this.values[layer] = keep(v.clone());
      return { keys: k, values: v };
    }
    return {
      keys: cat([this.keys[layer].indexSelect(0, this.rowGroup), k], 2), // [rows, nkv, width + s, hd]
      values: cat([this.values[layer].indexSelect(0, this.rowGroup), v], 2),
    };
  }

  override dispose(): void {
    for (const t of [...this.keys, ...this.values, this.rowGroup]) t?.dispose();
    this.keys = [];
    this.values = [];
    this.rowGroup = null;
    this.width = 0;
    super.dispose();
  }
}

/**
 * Reads P("yes") and P("no") as the next token after each prompt (left-padded batch, last position only), summed
 * over the single-token spellings of each word. Fails at construction when the tokenizer has none.
 *
 * @example const [p] = await new LocalYesNoScorer(model, tokenizer, 'models/cls').yesNo([harmbenchPrompt(item)]);
 */
export class LocalYesNoScorer implements YesNoScorer {
  readonly ids: { yes: number[]; no: number[] };
  constructor(readonly model: LanguageModel, readonly tokenizer: EvalTokenizer, source: string) {
    this.ids = yesNoTokenIds(tokenizer, source);
  }

  async yesNo(prompts: string[]): Promise<YesNoProbabilities[]> {
    const rows = prompts.map((p) => this.tokenizer.encode(p));
    const width = Math.max(...rows.map((r) => r.length));
    const pad = this.tokenizer.padTokenId ?? this.tokenizer.eosTokenId ?? 0;
    const ids = rows.map((r) => [...new Array<number>(width - r.length).fill(pad), ...r]);
    const mask = rows.map((r) => [...new Array<number>(width - r.length).fill(0), ...r.map(() => 1)]);
    const columns = [...this.ids.yes, ...this.ids.no];
    const device = this.model.device;
    const probs = inferenceMode(() => tidy(() => {
      const { logits } = this.model.forward(tensor(ids, { dtype: 'int64', device }), { attentionMask: tensor(mask, { dtype: 'int64', device }), logitsToKeep: 1 }); // [b, 1, v]
      const p = logits.select(1, 0).to('float32').softmax(-1); // [b, v]
      return p.indexSelect(1, tensor(columns, { dtype: 'int64', device })).toArray() as number[][]; // [b, yes + no]
    }));
    const k = this.ids.yes.length;
    const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
    return probs.map((row) => ({ yes: sum(row.slice(0, k)), no: sum(row.slice(k)) }));
  }
}

/** Where and in which dtype evaluation models run (default float32 on the CPU: libtorch has no float16 matmul there). */
export interface LoadOptions {
  dtype?: DType;
  device?: Device;
}

/**
 * A model (Hugging Face folder or .gguf file) in eval mode, with its tokenizer, which evaluation cannot do without.
 *
 * @example const { model, tokenizer } = loadLocalModel('runs/bfpo/final', { dtype: 'bfloat16', device: 'cuda' });
 */
export function loadLocalModel(path: string, o: LoadOptions = {}): { model: LanguageModel; tokenizer: Tokenizer } {
  const device = o.device ?? 'cpu';
  const { model, tokenizer } = loadPretrained(path, { device, ...(o.dtype ? { dtype: o.dtype } : device === 'cpu' ? { dtype: 'float32' } : { dtype: 'auto' }) });
  if (!tokenizer) {
    model.dispose();
    throw new FormatError(path, 'has no tokenizer (tokenizer.json); evaluation renders chat templates and reads answers, so it needs one');
  }
  model.eval();
  return { model, tokenizer };
}

/**
 * Loads a model (folder or .gguf) for evaluation: chat generation and log-likelihood scoring.
 *
 * @example await evaluate(config, { loadModel: loadEvalModel, loadYesNoScorer });
 */
export async function loadEvalModel(source: ModelSource, o: LoadOptions = {}): Promise<EvalModel> {
  const { model, tokenizer } = loadLocalModel(source.path, o);
  return { chat: new LocalChatModel(model, tokenizer), scorer: new LocalScorer(model, tokenizer), completer: new LocalCompleter(model, tokenizer), dispose: () => model.dispose() };
}

/**
 * Loads a classifier judge model (folder or .gguf) as a yes/no scorer.
 *
 * @example const judge = classifierJudge(await loadYesNoScorer('models/HarmBench-Llama-2-13b-cls'));
 */
export async function loadYesNoScorer(folder: string, o: LoadOptions = {}): Promise<YesNoScorer> {
  const { model, tokenizer } = loadLocalModel(folder, o);
  try {
    return new LocalYesNoScorer(model, tokenizer, folder);
  } catch (err) {
    model.dispose();
    throw err;
  }
}
