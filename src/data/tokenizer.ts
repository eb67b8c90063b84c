// The tokenizer surface the data layer needs. Any tokenizer with a chat template fits (the io layer's
// tokenizer.json + Jinja wrapper, or a test double); the data layer never loads tokenizer files itself.
import type { Message } from './types.js';

/**
 * Text → token ids and messages → text through the model's chat template.
 *
 * @example
 * const ids = tok.encode(tok.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
 */
export interface TextTokenizer {
  /** Token ids of `text`; `addSpecialTokens: false` adds no BOS/EOS of the tokenizer's post-processor. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  /** The chat template rendered as text (the tokenizer's bos/eos strings available to the template). */
  applyChatTemplate(messages: Message[], opts?: { addGenerationPrompt?: boolean }): string;
  /** Beginning-of-sequence id, or null when the model uses none (then no BOS is ever added). */
  readonly bosTokenId: number | null;
  /** End-of-sequence id; in `clean` mode also the end-of-turn token unless an `eotTokenId` is given. */
  readonly eosTokenId: number;
  /** Padding id, or null (padding then uses eosTokenId; padded positions are masked anyway). */
  readonly padTokenId: number | null;
  /** Optional: token ids back to text, used for reports and docs. */
  decode?(ids: ArrayLike<number>): string;
}

/**
 * Many texts to ids at once, each as `encode(text, { addSpecialTokens: false })` gives it, in order (e.g. Hugging
 * Face's Rust library through the io layer's `batchEncoder`).
 */
export interface BatchTextEncoder {
  encodeBatch(texts: string[]): Promise<TokenIds[]>;
}

/** One text's ids: a plain array, or an Int32Array as the native encoder returns them (no copy into an array). */
export type TokenIds = number[] | Int32Array;

/**
 * Tokenization as a generator: it yields the texts it needs encoded (without the tokenizer's own special tokens),
 * receives their ids in the same order, possibly yields again, and returns its result. Rendering happens between
 * yields, so a batch encoder can encode one group's texts while the next group renders.
 */
export type EncodeSteps<T> = Generator<string[], T, TokenIds[]>;

/** Runs `steps` with `tok.encode`, one text at a time. */
export function runSteps<T>(steps: EncodeSteps<T>, tok: TextTokenizer): T {
  let at = steps.next();
  while (!at.done) at = steps.next(at.value.map((t) => tok.encode(t, { addSpecialTokens: false })));
  return at.value;
}
