// SFT conversations → token ids with a label boundary per assistant turn. `clean` learns only the assistant turns
// (content through the end-of-turn token); `trl-0.7` learns every token of the rendered conversation, as the original's SFT did.
import { ArgumentError } from '../errors.js';
import { sameStart, type TokenizeMode } from './tokenize.js';
import { runSteps, type EncodeSteps, type TextTokenizer, type TokenIds } from './tokenizer.js';
import type { ExampleSource, SftExample } from './types.js';

/** A tokenized conversation: `learn[i]` is 1 where position i carries a label. */
export interface TokenizedSft {
  ids: Int32Array;
  learn: Uint8Array;
  source: ExampleSource;
}

/** Number of tokens of enc(text) that enc(prefix) covers (one fewer when the last prefix token merged). */
function tokenBoundary(full: TokenIds, prefixIds: TokenIds): number {
  return sameStart(full, prefixIds) ? prefixIds.length : prefixIds.length - 1;
}

/** Options of {@link tokenizeSft}. */
export interface SftTokenizeOptions { maxLength: number; mode?: TokenizeMode; eotTokenId?: number }

/** The steps of one conversation (see `EncodeSteps`): {@link tokenizeSft} runs them with `tok.encode`. */
export function* sftSteps(ex: SftExample, tok: TextTokenizer, opts: SftTokenizeOptions): EncodeSteps<TokenizedSft> {
  const text = tok.applyChatTemplate(ex.messages, { addGenerationPrompt: false });
  const clean = (opts.mode ?? 'clean') !== 'trl-0.7';
  // Each assistant turn: the text before it (with the generation prompt) and the text through it.
  const turns: { first: boolean; before: string; through: string }[] = [];
  if (clean) {
    for (let i = 0; i < ex.messages.length; i++) {
      if (ex.messages[i]!.role !== 'assistant') continue;
      const before = tok.applyChatTemplate(ex.messages.slice(0, i), { addGenerationPrompt: true });
      const through = tok.applyChatTemplate(ex.messages.slice(0, i + 1), { addGenerationPrompt: false });
      if (!text.startsWith(through) || !through.startsWith(before)) {
        throw new ArgumentError('The chat template does not render conversations prefix by prefix; use mode "trl-0.7" with this template');
      }
      turns.push({ first: i === 0, before, through });
    }
  }
  const [encoded, ...turnIds] = yield [text, ...turns.flatMap((t) => (t.first ? [t.through] : [t.before, t.through]))];
  let ids = Array.from(encoded!);
  const learn = new Uint8Array(ids.length);
  if (!clean) learn.fill(1);
  let at = 0;
  for (const t of turns) {
    const a = t.first ? 0 : tokenBoundary(ids, turnIds[at++]!);
    let b = tokenBoundary(ids, turnIds[at++]!);
    const eot = ids.lastIndexOf(opts.eotTokenId ?? tok.eosTokenId, b - 1);
    if (eot >= a) b = eot + 1; // the turn ends at its end-of-turn token; template text after it is not learned
    learn.fill(1, a, b);
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

/**
 * Tokenizes a conversation for SFT, truncated to `maxLength` keeping its start.
 *
 * @example
 * const { ids, learn } = tokenizeSft(example, tok, { maxLength: 2048 });
 */
export function tokenizeSft(ex: SftExample, tok: TextTokenizer, opts: SftTokenizeOptions): TokenizedSft {
  return runSteps(sftSteps(ex, tok, opts), tok);
}
