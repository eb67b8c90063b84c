// Token-level helpers of the model adapter: the tokenizer surface evaluation needs, the harness's split of
// context and continuation tokens, and the single-token ids of "yes" and "no" a classifier judge reads.
import { expected } from '../errors.js';
import { JudgeError } from './errors.js';
import type { ContinuationPair, Message } from './types.js';

/** What evaluation needs of a tokenizer (io's Tokenizer has all of it). */
export interface EvalTokenizer {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The chat template rendered as text (encoded afterwards without adding special tokens again). */
  applyChatTemplate(messages: Message[], opts: { addGenerationPrompt: boolean; tokenize: false }): string;
  readonly eosTokenId: number | null | undefined;
  readonly padTokenId: number | null | undefined;
  /** The BOS token, which an empty context stands for (lm-eval's prefix token; EOS when there is none). */
  readonly bosTokenId?: number | null;
}

/**
 * Context and continuation token ids as lm-evaluation-harness splits them: trailing whitespace of the context moves
 * to the continuation, the whole text is encoded once, and the continuation is the part after the context's tokens.
 * Encoding adds the tokenizer's special tokens (BOS for Llama) before the context. An empty context is lm-eval's
 * prefix token alone (BOS, else EOS) before the continuation encoded without special tokens; a tokenizer with
 * neither token cannot score it (an ArgumentError says so). An empty continuation has no tokens.
 *
 * @example splitContinuation(tok, { context: 'The sky is', continuation: ' blue' }) // { contextIds: [1, 450, 14744, 338], continuationIds: [7254] }
 */
export function splitContinuation(
  tokenizer: Pick<EvalTokenizer, 'encode'> & Partial<Pick<EvalTokenizer, 'bosTokenId' | 'eosTokenId'>>,
  { context, continuation }: ContinuationPair,
): { contextIds: number[]; continuationIds: number[] } {
  if (context === '') {
    const prefix = tokenizer.bosTokenId ?? tokenizer.eosTokenId;
    if (typeof prefix !== 'number') throw expected('a tokenizer with a BOS or EOS token (an empty context stands for it)', 'scoring tokenizer', continuation);
    return { contextIds: [prefix], continuationIds: tokenizer.encode(continuation, { addSpecialTokens: false }) };
  }
  const trimmed = context.replace(/\s+$/, '');
  const cont = context.slice(trimmed.length) + continuation;
  const whole = tokenizer.encode(trimmed + cont);
  const ctx = tokenizer.encode(trimmed);
  // An empty continuation has no tokens (lm-eval scores it 0, greedy).
  if (cont === '') return { contextIds: ctx, continuationIds: [] };
  if (whole.length <= ctx.length) {
    // The continuation merged into the context's last token: score that token as the continuation.
    return { contextIds: whole.slice(0, -1), continuationIds: whole.slice(-1) };
  }
  return { contextIds: whole.slice(0, ctx.length), continuationIds: whole.slice(ctx.length) };
}

/**
 * The single-token ids of "yes" and "no": the spellings `yes`, `Yes`, `YES` (and `no`, ...), with and without a
 * leading space, that encode to exactly one token which decodes back to the word. A tokenizer without any
 * such token for either word cannot serve a classifier judge: a JudgeError says so.
 *
 * @example yesNoTokenIds(llama2Tokenizer, 'models/cls') // { yes: [3869, 4874, ...], no: [1217, 694, ...] }
 */
export function yesNoTokenIds(tokenizer: Pick<EvalTokenizer, 'encode' | 'decode'>, source: string): { yes: number[]; no: number[] } {
  const ids = (word: string): number[] => {
    const spellings = [word, word[0].toUpperCase() + word.slice(1), word.toUpperCase()].flatMap((w) => [w, ` ${w}`]);
    const found = spellings
      .map((w) => tokenizer.encode(w, { addSpecialTokens: false }))
      .filter((t) => t.length === 1 && tokenizer.decode(t, { skipSpecialTokens: false }).trim().toLowerCase() === word)
      .map((t) => t[0]);
    if (found.length === 0) {
      throw new JudgeError(
        `Judge model ${source} has no single token for "${word}" (tried ${spellings.map((s) => JSON.stringify(s)).join(', ')}). ` +
        'The classifier judge reads the next-token probabilities of "yes" and "no", so its tokenizer needs one token for each ' +
        '(Llama-2 classifiers such as HarmBench\'s have them); use the endpoint judge for other models.',
      );
    }
    return [...new Set(found)];
  };
  return { yes: ids('yes'), no: ids('no') };
}
