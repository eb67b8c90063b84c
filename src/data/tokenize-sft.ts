// SFT conversations → token ids with a label boundary per assistant turn. `clean` learns only the assistant turns
// (content through the end-of-turn token); `trl-0.7` learns every token of the rendered conversation, as the original's SFT did.
import { ArgumentError } from '../errors.js';
import type { TokenizeMode } from './tokenize.js';
import type { TextTokenizer } from './tokenizer.js';
import type { ExampleSource, SftExample } from './types.js';

/** A tokenized conversation: `learn[i]` is 1 where position i carries a label. */
export interface TokenizedSft {
  ids: Int32Array;
  learn: Uint8Array;
  source: ExampleSource;
}

/** Number of tokens of enc(text) that enc(prefix) covers (one fewer when the last prefix token merged). */
function tokenBoundary(full: number[], prefixIds: number[]): number {
  return prefixIds.every((t, i) => full[i] === t) ? prefixIds.length : prefixIds.length - 1;
}

/**
 * Tokenizes a conversation for SFT, truncated to `maxLength` keeping its start.
 *
 * @example
 * const { ids, learn } = tokenizeSft(example, tok, { maxLength: 2048 });
 */
export function tokenizeSft(ex: SftExample, tok: TextTokenizer, opts: { maxLength: number; mode?: TokenizeMode; eotTokenId?: number }): TokenizedSft {
  const text = tok.applyChatTemplate(ex.messages, { addGenerationPrompt: false });
  let ids = tok.encode(text, { addSpecialTokens: false });
  const learn = new Uint8Array(ids.length);
  if ((opts.mode ?? 'clean') === 'trl-0.7') learn.fill(1);
  else {
    for (let i = 0; i < ex.messages.length; i++) {
      if (ex.messages[i]!.role !== 'assistant') continue;
      const before = tok.applyChatTemplate(ex.messages.slice(0, i), { addGenerationPrompt: true });
      const through = tok.applyChatTemplate(ex.messages.slice(0, i + 1), { addGenerationPrompt: false });
      if (!text.startsWith(through) || !through.startsWith(before)) {
        throw new ArgumentError('The chat template does not render conversations prefix by prefix; use mode "trl-0.7" with this template');
      }
      const a = i === 0 ? 0 : tokenBoundary(ids, tok.encode(before, { addSpecialTokens: false }));
      let b = tokenBoundary(ids, tok.encode(through, { addSpecialTokens: false }));
      const eot = ids.lastIndexOf(opts.eotTokenId ?? tok.eosTokenId, b - 1);
      if (eot >= a) b = eot + 1; // the turn ends at its end-of-turn token; template text after it is not learned
      learn.fill(1, a, b);
    }
  }
  let learnOut = learn;
  if (tok.bosTokenId !== null && ids[0] !== tok.bosTokenId) {
    ids = [tok.bosTokenId, ...ids];
    learnOut = new Uint8Array(ids.length);
    learnOut.set(learn, 1);
    if (opts.mode === 'trl-0.7') learnOut[0] = 1;
  }
  const n = Math.min(ids.length, opts.maxLength);
  return { ids: Int32Array.from(ids.slice(0, n)), learn: learnOut.slice(0, n), source: ex.source };
}
