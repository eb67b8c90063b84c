// Plain-text continuation with a local model, as lm-evaluation-harness 0.4.1 runs `generate_until` for Hugging Face
// models: the prompt encoded without special tokens, no chat template, stop strings and end of sequence cut off.
import { generate } from '../models/generate.js';
import type { LanguageModel } from '../models/language-model.js';
import type { EvalTokenizer } from './tokens.js';
import type { GenerationSettings, TextCompleter } from './types.js';

/** The text before the first stop string (lm-eval's `s.split(term)[0]` for each term). */
export function cutAtStops(text: string, stop: string[] | undefined): string {
  let out = text;
  for (const s of stop ?? []) if (s.length > 0) out = out.split(s)[0];
  return out;
}

/**
 * Continues prompts with a local model: each prompt encoded as is (no BOS, lm-eval's default for causal models; Gemma
 * models get their BOS, as lm-eval 0.4.1 forces `add_bos_token` for them),
 * left-padded batch, greedy when temperature is 0; the continuation decoded without special tokens and cut at the
 * first stop string. Not trimmed: leading spaces are part of what the references are compared with.
 *
 * @example const [answer] = await new LocalCompleter(model, tokenizer).complete(['Q: 2+2?\nA:'], { ...settings, stop: ['\n\n'] });
 */
export class LocalCompleter implements TextCompleter {
  constructor(readonly model: LanguageModel, readonly tokenizer: EvalTokenizer) {}

  async complete(prompts: string[], s: GenerationSettings): Promise<string[]> {
    const bos = this.model.config.modelType.includes('gemma');
    return generateTexts(this.model, this.tokenizer, prompts.map((p) => this.tokenizer.encode(p, { addSpecialTokens: bos })), s);
  }
}

/**
 * Generates from token-id prompts (left-padded batch, KV cache) with the given settings, greedy when temperature is 0,
 * stopping at the model's and the tokenizer's EOS tokens and at the stop strings; returns each continuation decoded
 * without special tokens and cut at the first stop string. The one generation path of the local eval models.
 */
export function generateTexts(model: LanguageModel, tokenizer: EvalTokenizer, prompts: number[][], s: GenerationSettings): string[] {
  const eos = [...model.config.eosTokenIds, tokenizer.eosTokenId].filter((x): x is number => typeof x === 'number');
  const decode = (t: number[]) => tokenizer.decode(t, { skipSpecialTokens: true });
  const { sequences } = generate(model, prompts, {
    maxNewTokens: s.maxNewTokens,
    doSample: s.temperature > 0,
    ...(s.temperature > 0 ? { temperature: s.temperature, topP: s.topP } : {}),
    seed: s.seed,
    eosTokenIds: [...new Set(eos)],
    ...(typeof tokenizer.padTokenId === 'number' ? { padTokenId: tokenizer.padTokenId } : {}),
    ...(s.stop?.length ? { stopStrings: s.stop } : {}),
    decode,
  });
  return sequences.map((t) => cutAtStops(decode(t), s.stop));
}
