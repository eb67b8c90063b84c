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
