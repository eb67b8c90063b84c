// Preference pairs → token ids with the prompt/answer boundary kept, in two modes:
// `clean` (prompt with the generation prompt, answer + one end-of-turn token, no duplicate BOS/EOS) and
// `trl-0.7` (the original's exact sequences: header inside the completion, BOS prepended, EOS appended twice).
import { ArgumentError, expected } from '../errors.js';
import { runSteps, type EncodeSteps, type TextTokenizer, type TokenIds } from './tokenizer.js';
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

/** Whether `full` starts with every id of `prefix`. */
export const sameStart = (full: TokenIds, prefix: TokenIds): boolean => {
  if (prefix.length > full.length) return false;
  for (let i = 0; i < prefix.length; i++) if (full[i] !== prefix[i]) return false;
  return true;
};

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
function truncate(parts: Parts[], opts: TokenizeOptions): void {
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

function sequence(p: Parts): TokenizedSequence {
  const ids = new Int32Array(p.prompt.length + p.answer.length);
  ids.set(p.prompt);
  ids.set(p.answer, p.prompt.length);
  return { ids, promptLength: p.prompt.length };
}

type Parts = { prompt: TokenIds; answer: TokenIds };

/** trl 0.7.7: enc(prompt + answer) split at len(enc(prompt)), moved one left when the last prompt token merged. */
function trlSplit(full: TokenIds, promptIds: TokenIds): { prompt: number[]; answer: number[] } {
  let start = promptIds.length;
  if (!sameStart(full, promptIds)) start -= 1;
  return { prompt: Array.from(full.slice(0, start)), answer: Array.from(full.slice(start)) };
}

function* trlSteps(ex: PreferenceExample, tok: TextTokenizer): EncodeSteps<[{ prompt: number[]; answer: number[] }, { prompt: number[]; answer: number[] }]> {
  const promptText = tok.applyChatTemplate(ex.prompt, { addGenerationPrompt: false });
  const chosenText = promptText + tok.applyChatTemplate(ex.chosen, { addGenerationPrompt: false });
  const rejectedText = promptText + tok.applyChatTemplate(ex.rejected, { addGenerationPrompt: false });
  const [promptIds, chosenIds, rejectedIds] = yield [promptText, chosenText, rejectedText];
  const c = trlSplit(chosenIds!, promptIds!);
  const r = trlSplit(rejectedIds!, promptIds!);
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

/** The whole conversation's text; its answer part is what follows the prompt text. */
function cleanText(tok: TextTokenizer, promptText: string, prompt: Message[], answer: Message[]): string {
  const fullText = tok.applyChatTemplate([...prompt, ...answer], { addGenerationPrompt: false });
  if (!fullText.startsWith(promptText)) {
    throw new ArgumentError('The chat template renders the prompt with its generation prompt differently from the start of the whole conversation; use mode "trl-0.7" with this template');
  }
  return fullText;
}

/** The answer ids through their last end-of-turn token, or with one appended when they have none. */
function endAtTurn(ids: TokenIds, eot: number): Int32Array {
  const a = ids instanceof Int32Array ? ids : Int32Array.from(ids);
  const end = a.lastIndexOf(eot);
  if (end >= 0) return a.subarray(0, end + 1); // drop what the template writes after the end-of-turn token (a newline)
  const out = new Int32Array(a.length + 1);
  out.set(a);
  out[a.length] = eot;
  return out;
}

function* cleanSteps(ex: PreferenceExample, tok: TextTokenizer, opts: TokenizeOptions): EncodeSteps<[Parts, Parts]> {
  const promptText = tok.applyChatTemplate(ex.prompt, { addGenerationPrompt: true });
  const texts = [cleanText(tok, promptText, ex.prompt, ex.chosen), cleanText(tok, promptText, ex.prompt, ex.rejected)];
  const [promptIds, ...full] = yield [promptText, ...texts];
  const eot = opts.eotTokenId ?? tok.eosTokenId;
  // When a token merged across the prompt/answer boundary, the answer is encoded on its own.
  const merged = [0, 1].filter((k) => !sameStart(full[k]!, promptIds!));
  boundaryStats.reencoded += merged.length;
  const alone = merged.length > 0 ? yield merged.map((k) => texts[k]!.slice(promptText.length)) : [];
  const answers = [0, 1].map((k) => endAtTurn(merged.includes(k) ? alone[merged.indexOf(k)]! : full[k]!.slice(promptIds!.length), eot));
  const prompt = tok.bosTokenId !== null && promptIds![0] !== tok.bosTokenId ? [tok.bosTokenId, ...promptIds!] : promptIds!;
  return [{ prompt, answer: answers[0]! }, { prompt: prompt.slice(), answer: answers[1]! }];
}

/**
 * The steps of one pair: yields the texts it needs encoded (without the tokenizer's own special tokens), receives
 * their ids, and returns the pair. {@link tokenizePair} runs it with `tok.encode`; batch encoders run many at once.
 */
export function* pairSteps(ex: PreferenceExample, tok: TextTokenizer, opts: TokenizeOptions): EncodeSteps<TokenizedPair> {
  const [c, r] = (opts.mode ?? 'clean') === 'trl-0.7' ? yield* trlSteps(ex, tok) : yield* cleanSteps(ex, tok, opts);
  truncate([c, r], opts);
  return { chosen: sequence(c), rejected: sequence(r), isChosenSafe: ex.isChosenSafe, isRejectedSafe: ex.isRejectedSafe, source: ex.source };
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
  return runSteps(pairSteps(ex, tok, opts), tok);
}
