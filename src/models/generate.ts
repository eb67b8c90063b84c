// Batched text generation with a KV cache: left-padded prompts, greedy or sampled decoding (temperature, top-k,
// top-p, seed), EOS ids and stop strings, max_new_tokens, a per-step callback. Runs in inference mode; each step
// frees its tensors, so memory stays flat however long the generation.
import { inferenceMode } from '../tensor/autograd.js';
import { ones, tensor } from '../tensor/creation.js';
import { ArgumentError, expected } from '../errors.js';
import { cat } from '../tensor/functional.js';
import { manualSeed } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { KVCache } from './kv-cache.js';
import type { LanguageModel } from './language-model.js';

/** Why a sequence stopped: an EOS token, a stop string, or max_new_tokens. */
export type FinishReason = 'eos' | 'stop' | 'length';

/** How the next token is chosen. Without `doSample` decoding is greedy (the most likely token). */
export interface SamplingOptions {
  doSample?: boolean;
  /** Divides the logits before sampling (default 1). */
  temperature?: number;
  /** Samples only among the `topK` most likely tokens. */
  topK?: number;
  /** Samples only from the smallest set of tokens whose probability reaches `topP` (nucleus sampling). */
  topP?: number;
}

/** What the per-step callback receives. */
export interface GenerationStep {
  step: number;
  /** The token each row produced at this step, or null for rows that had already finished. */
  tokens: (number | null)[];
  /** Set on the step where a row finishes. */
  finishReasons: (FinishReason | null)[];
}

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate per row (default 64). */
  maxNewTokens?: number;
  /** Seeds the random generator first, so sampling repeats. */
  seed?: number;
  /** Tokens that end a row (default: the config's eos_token_id). The EOS token is included in the output. */
  eosTokenIds?: number[];
  /** Token used to left-pad prompts and to fill finished rows (default: pad_token_id, else the first EOS, else 0). */
  padTokenId?: number;
  /** Strings that end a row once its decoded output contains one; needs `decode`. */
  stopStrings?: string[];
  /** Turns token ids into text, for stop strings and for `texts` in the result. */
  decode?: (ids: number[]) => string;
  /** Called after every step, for streaming. */
  onStep?: (step: GenerationStep) => void;
}

export interface GenerateResult {
  /** The generated ids of each row (prompt excluded; EOS included when it ended the row). */
  sequences: number[][];
  finishReasons: FinishReason[];
  /** The decoded generations, when `decode` was given. */
  texts?: string[];
}

function checkSampling(o: SamplingOptions): void {
  const { temperature = 1, topK, topP } = o;
  if (!(typeof temperature === 'number' && temperature > 0)) throw expected('a positive number', 'temperature', temperature);
  if (topK !== undefined && !(Number.isInteger(topK) && topK > 0)) throw expected('a positive integer', 'topK', topK);
  if (topP !== undefined && !(typeof topP === 'number' && topP > 0 && topP <= 1)) throw expected('a number in (0, 1]', 'topP', topP);
}

/**
 * The next token of each row from `logits` [b, v]: argmax, or a draw after temperature, top-k and top-p filtering
 * (in that order, as HF). Returns int64 [b].
 *
 * @example const next = chooseNextTokens(logits, { doSample: true, topP: 0.9 }); // [batch]
 */
export function chooseNextTokens(logits: Tensor, o: SamplingOptions = {}): Tensor {
  checkSampling(o);
  return tidy(() => {
    if (!o.doSample) return logits.argmax(-1); // [b]
    let scores = logits.to('float32').div(o.temperature ?? 1); // [b, v]
    const vocab = scores.shape[1];
    if (o.topK !== undefined && o.topK < vocab) {
      const kth = scores.topk(o.topK, -1).values.narrow(-1, o.topK - 1, 1); // [b, 1]
      scores = scores.maskedFill(scores.lt(kth), -Infinity);
    }
    if (o.topP !== undefined && o.topP < 1) {
      const { values, indices } = scores.sort(-1, false); // ascending, [b, v]
      // Drop the least likely tokens while their total stays within 1 - topP; the most likely always stays.
      const dropSorted = values.softmax(-1).cumsum(-1).le(1 - o.topP); // [b, v]
      dropSorted.narrow(-1, vocab - 1, 1).fill_(false); // never drop the most likely token, whatever the rounding
      const drop = dropSorted.scatter(-1, indices, dropSorted); // back to vocabulary order
      scores = scores.maskedFill(drop, -Infinity);
    }
    return scores.softmax(-1).multinomial(1).squeeze(1); // [b]
  });
}

function checkPrompts(prompts: unknown, vocab: number): number[][] {
  if (!Array.isArray(prompts) || prompts.length === 0) throw expected('a non-empty array of token id arrays', 'prompts', prompts);
  prompts.forEach((p, i) => {
    if (!Array.isArray(p) || p.length === 0 || !p.every((x) => Number.isInteger(x) && x >= 0 && x < vocab)) {
      throw expected(`a non-empty array of token ids in [0, ${vocab})`, `prompts[${i}]`, p);
    }
  });
  return prompts as number[][];
}

/** Left-pads prompts to one width: ids with `pad`, and the attention mask (0 on padding). */
function leftPad(prompts: number[][], pad: number): { ids: number[][]; mask: number[][] } {
  const width = Math.max(...prompts.map((p) => p.length));
  return {
    ids: prompts.map((p) => [...new Array<number>(width - p.length).fill(pad), ...p]),
    mask: prompts.map((p) => [...new Array<number>(width - p.length).fill(0), ...new Array<number>(p.length).fill(1)]),
  };
}

/**
 * Generates continuations of `prompts` (token ids; different lengths are left-padded) in one batch.
 *
 * @example
 * const { sequences, finishReasons } = generate(model, [tokenizer.encode('Hello')], {
 *   maxNewTokens: 32, doSample: true, topP: 0.9, seed: 0, decode: (ids) => tokenizer.decode(ids),
 *   stopStrings: ['\n\n'], onStep: ({ tokens }) => process.stdout.write(tokenizer.decode([tokens[0] ?? 0])),
 * });
 */
export function generate(model: LanguageModel, prompts: number[][], opts: GenerateOptions = {}): GenerateResult {
  const cfg = model.config;
  checkPrompts(prompts, cfg.vocabSize);
  checkSampling(opts);
  const maxNew = opts.maxNewTokens ?? 64;
  if (!(Number.isInteger(maxNew) && maxNew >= 0)) throw expected('a non-negative integer', 'maxNewTokens', maxNew);
  const eos = new Set(opts.eosTokenIds ?? cfg.eosTokenIds);
  const pad = opts.padTokenId ?? cfg.padTokenId ?? [...eos][0] ?? 0;
  const stops = opts.stopStrings ?? [];
  if (!Array.isArray(stops) || stops.some((s) => typeof s !== 'string' || s === '')) throw expected('an array of non-empty strings', 'stopStrings', stops);
  if (stops.length > 0 && typeof opts.decode !== 'function') throw new ArgumentError('stopStrings need a decode(ids) function to turn tokens into text');
  if (opts.seed !== undefined) manualSeed(opts.seed);

  const b = prompts.length;
  const device = model.device;
  const sequences: number[][] = prompts.map(() => []);
  const reasons: (FinishReason | null)[] = prompts.map(() => null);
  const cache = new KVCache({ reserve: Math.max(...prompts.map((p) => p.length)) + maxNew });
  let mask: Tensor | null = null;
  let input: Tensor | null = null;
  try {
    inferenceMode(() => {
      const { ids: padded, mask: maskRows } = leftPad(prompts, pad);
      mask = keep(tensor(maskRows, { dtype: 'int64', device })); // [b, width]
      input = keep(tensor(padded, { dtype: 'int64', device })); // [b, width]
      for (let step = 0; step < maxNew && reasons.some((r) => r === null); step++) {
        const m: Tensor = mask!;
        const x: Tensor = input!;
        const next = tidy(() => {
          const { logits } = model.forward(x, { attentionMask: m, cache, logitsToKeep: 1 }); // [b, 1, v]
          return chooseNextTokens(logits.select(1, 0), opts); // [b]
        });
        const ids = Array.from(next.toTypedArray() as BigInt64Array, Number);
        next.dispose();
        const tokens = ids.map((id, r) => (reasons[r] === null ? id : null));
        const finished = tokens.map((id, r): FinishReason | null => {
          if (id === null) return null;
          sequences[r].push(id);
          if (eos.has(id)) return 'eos';
          if (stops.length > 0 && stops.some((s) => opts.decode!(sequences[r]).includes(s))) return 'stop';
          if (sequences[r].length >= maxNew) return 'length';
          return null;
        });
        finished.forEach((f, r) => { if (f) reasons[r] = f; });
        opts.onStep?.({ step, tokens, finishReasons: finished });
        x.dispose();
        input = keep(tensor(tokens.map((id) => [id ?? pad]), { dtype: 'int64', device })); // [b, 1]
        const grown = keep(tidy(() => cat([m, ones([b, 1], { dtype: 'int64', device })], 1))); // [b, t + 1]
        m.dispose();
        mask = grown;
      }
    });
  } finally {
    cache.dispose();
    (mask as Tensor | null)?.dispose();
    (input as Tensor | null)?.dispose();
  }
  const finishReasons = reasons.map((r) => r ?? 'length');
  const result: GenerateResult = { sequences, finishReasons };
  if (opts.decode) result.texts = sequences.map((s) => opts.decode!(s));
  return result;
}
