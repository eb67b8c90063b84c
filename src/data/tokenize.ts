// Preference pairs → token ids with the prompt/answer boundary kept, in two modes:
// `clean` (prompt with the generation prompt, answer + one end-of-turn token, no duplicate BOS/EOS) and
// `trl-0.7` (the original's exact sequences: header inside the completion, BOS prepended, EOS appended twice).
import { ArgumentError, expected } from '../errors.js';
import type { TextTokenizer } from './tokenizer.js';
import type { ExampleSource, Message, PreferenceExample } from './types.js';

/** `clean` (default) or `trl-0.7` (reproduces the original's token sequences, quirks included). */
export type TokenizeMode = 'clean' | 'trl-0.7';

/** Options of {@link tokenizePair}. */
export interface TokenizeOptions {
  /** Longest prompt + answer (the original's max_length, e.g. 1024). */
  maxLength: number;
  /** Longest prompt kept when the pair is too long (the original's max_prompt_length, e.g. 512). */
  maxPromptLength: number;
  mode?: TokenizeMode;
  /** Which end of an over-long prompt survives (the original's default keeps the end). */
  truncationMode?: 'keep_end' | 'keep_start';
  /** `clean` mode: the token that ends an assistant turn (default the tokenizer's EOS). */
  eotTokenId?: number;
}

/** One sequence: prompt tokens then answer tokens; labels apply to positions ≥ promptLength. */
export interface TokenizedSequence {
  ids: Int32Array;
  promptLength: number;
}

/** A tokenized preference pair. */
export interface TokenizedPair {
  chosen: TokenizedSequence;
  rejected: TokenizedSequence;
  isChosenSafe: 0 | 1;
  isRejectedSafe: 0 | 1;
  source: ExampleSource;
}

const sameStart = (full: number[], prefix: number[]): boolean => prefix.every((t, i) => full[i] === t);

/** Checks the length options once. */
export function checkTokenizeOptions(opts: TokenizeOptions): void {
  if (!Number.isInteger(opts.maxLength) || opts.maxLength < 2) throw expected('an integer ≥ 2', 'maxLength', opts.maxLength);
  if (!Number.isInteger(opts.maxPromptLength) || opts.maxPromptLength < 1 || opts.maxPromptLength >= opts.maxLength) {
    throw expected(`an integer in [1, maxLength) = [1, ${opts.maxLength})`, 'maxPromptLength', opts.maxPromptLength);
  }
  if (opts.mode !== undefined && opts.mode !== 'clean' && opts.mode !== 'trl-0.7') throw expected('"clean" or "trl-0.7"', 'mode', opts.mode);
}

/**
 * The original's truncation: if prompt + the LONGER answer exceeds maxLength, the prompt is cut to
 * maxPromptLength (keeping its end by default); if that is still too long, answers are cut to
 * maxLength − maxPromptLength. `longer` is measured once, before any cut, as the original does.
 */
function truncate(parts: { prompt: number[]; answer: number[] }[], opts: TokenizeOptions): void {
  const longer = Math.max(...parts.map((p) => p.answer.length));
  for (const p of parts) {
    if (p.prompt.length + longer > opts.maxLength) {
      p.prompt = opts.truncationMode === 'keep_start' ? p.prompt.slice(0, opts.maxPromptLength) : p.prompt.slice(-opts.maxPromptLength);
    }
  }
  for (const p of parts) {
    if (p.prompt.length + longer > opts.maxLength) p.answer = p.answer.slice(0, opts.maxLength - opts.maxPromptLength);
  }
}

function sequence(p: { prompt: number[]; answer: number[] }): TokenizedSequence {
  const ids = new Int32Array(p.prompt.length + p.answer.length);
  ids.set(p.prompt);
  ids.set(p.answer, p.prompt.length);
  return { ids, promptLength: p.prompt.length };
}

/** trl 0.7.7: enc(prompt + answer) split at len(enc(prompt)), moved one left when the last prompt token merged. */
function trlSplit(tok: TextTokenizer, promptText: string, promptIds: number[], answerText: string): { prompt: number[]; answer: number[] } {
  const full = tok.encode(promptText + answerText, { addSpecialTokens: false });
  let start = promptIds.length;
  if (!sameStart(full, promptIds)) start -= 1;
  return { prompt: full.slice(0, start), answer: full.slice(start) };
}

function tokenizeTrl(ex: PreferenceExample, tok: TextTokenizer, opts: TokenizeOptions): [{ prompt: number[]; answer: number[] }, { prompt: number[]; answer: number[] }] {
  const promptText = tok.applyChatTemplate(ex.prompt, { addGenerationPrompt: false });
  const promptIds = tok.encode(promptText, { addSpecialTokens: false });
  const c = trlSplit(tok, promptText, promptIds, tok.applyChatTemplate(ex.chosen, { addGenerationPrompt: false }));
  const r = trlSplit(tok, promptText, promptIds, tok.applyChatTemplate(ex.rejected, { addGenerationPrompt: false }));
  const diff = c.prompt.reduce((n, t, i) => n + (t !== r.prompt[i] ? 1 : 0), 0);
  if (diff > 1 || Math.abs(c.prompt.length - r.prompt.length) > 1) {
    throw new ArgumentError(`${ex.source.dataset}, row ${ex.source.row}: chosen and rejected prompt tokens differ by more than one token`);
  }
  for (const p of [c, r]) {
    if (tok.bosTokenId !== null) p.prompt.unshift(tok.bosTokenId);
    p.answer.push(tok.eosTokenId);
  }
  return [c, r];
}

/** Counts of `clean`-mode pairs whose answer had to be encoded on its own because a token merged across the boundary. */
export const boundaryStats = { reencoded: 0 };

function cleanAnswer(tok: TextTokenizer, promptText: string, promptIds: number[], prompt: Message[], answer: Message[], eot: number): number[] {
  const fullText = tok.applyChatTemplate([...prompt, ...answer], { addGenerationPrompt: false });
  if (!fullText.startsWith(promptText)) {
    throw new ArgumentError('The chat template renders the prompt with its generation prompt differently from the start of the whole conversation; use mode "trl-0.7" with this template');
  }
  const answerText = fullText.slice(promptText.length);
  const full = tok.encode(fullText, { addSpecialTokens: false });
  let ids: number[];
  if (sameStart(full, promptIds)) ids = full.slice(promptIds.length);
  else {
    boundaryStats.reencoded += 1;
    ids = tok.encode(answerText, { addSpecialTokens: false });
  }
  const end = ids.lastIndexOf(eot);
  if (end >= 0) ids.length = end + 1; // drop what the template writes after the end-of-turn token (a newline)
  else ids.push(eot);
  return ids;
}

function tokenizeClean(ex: PreferenceExample, tok: TextTokenizer, opts: TokenizeOptions): [{ prompt: number[]; answer: number[] }, { prompt: number[]; answer: number[] }] {
  const promptText = tok.applyChatTemplate(ex.prompt, { addGenerationPrompt: true });
  const promptIds = tok.encode(promptText, { addSpecialTokens: false });
  const eot = opts.eotTokenId ?? tok.eosTokenId;
  const chosen = cleanAnswer(tok, promptText, promptIds, ex.prompt, ex.chosen, eot);
  const rejected = cleanAnswer(tok, promptText, promptIds, ex.prompt, ex.rejected, eot);
  const prompt = tok.bosTokenId !== null && promptIds[0] !== tok.bosTokenId ? [tok.bosTokenId, ...promptIds] : promptIds;
  return [{ prompt, answer: chosen }, { prompt: [...prompt], answer: rejected }];
}

/**
 * Tokenizes one preference pair. Prompt tokens are never merged with answer tokens; labels are the answer part.
 *
 * @example
 * const pair = tokenizePair(example, tok, { maxLength: 1024, maxPromptLength: 512 });
 * pair.chosen.ids.subarray(pair.chosen.promptLength) // the chosen answer's tokens, ending with one EOS
 */
export function tokenizePair(ex: PreferenceExample, tok: TextTokenizer, opts: TokenizeOptions): TokenizedPair {
  checkTokenizeOptions(opts);
  const [c, r] = (opts.mode ?? 'clean') === 'trl-0.7' ? tokenizeTrl(ex, tok, opts) : tokenizeClean(ex, tok, opts);
  truncate([c, r], opts);
  return { chosen: sequence(c), rejected: sequence(r), isChosenSafe: ex.isChosenSafe, isRejectedSafe: ex.isRejectedSafe, source: ex.source };
}
