// Keeps message content from forging structure: special-token strings inside content (`</s>`, `<|im_end|>`, ...)
// are escaped before the chat template runs and encoded as plain text, while the template's own markup keeps its
// special tokens. Text without escapes encodes exactly as before.
import { randomBytes } from 'node:crypto';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { BfpoError } from '../errors.js';

type Json = Record<string, unknown>;

/** How special-token strings inside message content tokenize: `text` (default, safe) or `special` (permissive). */
export type ContentSpecialTokens = 'text' | 'special';

/** The values `ContentSpecialTokens` accepts, for option checks. */
export const CONTENT_SPECIAL_TOKENS: readonly ContentSpecialTokens[] = ['text', 'special'];

// A content occurrence of special token k becomes ESCAPE_OPEN + k + ESCAPE_CLOSE in the rendered text. The
// characters are from Unicode's private use area, which no tokenizer gives meaning to and templates leave alone.
const ESCAPE_OPEN = '\uE000\uE0FFbfpo-special-';
const ESCAPE_CLOSE = '\uE001';
const ESCAPE_RE = /\uE000\uE0FFbfpo-special-(\d+)\uE001/g;

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Escapes special-token strings in content and encodes rendered text in which such escapes occur. Built from the
 * same tokenizer.json (after bfpo's pre-processing) and options the main tokenizer uses.
 */
export class ContentGuard {
  /** Special-token strings, longest first (so `<|im_start|>` wins over a shorter prefix). */
  readonly specials: readonly string[];
  readonly #index: Map<string, number>;
  readonly #find: RegExp | null;
  readonly #json: Json;
  readonly #options: Json;
  readonly #nonce = randomBytes(8).toString('hex');
  #plain: HfTokenizer | null = null;

  constructor(json: Json, options: Json, specials: Iterable<string>) {
    this.specials = [...new Set(specials)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
    this.#index = new Map(this.specials.map((s, i) => [s, i]));
    this.#find = this.specials.length > 0 ? new RegExp(this.specials.map(escapeRegExp).join('|'), 'g') : null;
    this.#json = json;
    this.#options = options;
  }

  /** `content` with every special-token string replaced by its escape (stable for this tokenizer). */
  escape(content: string): string {
    if (!this.#find) return content;
    return content.replace(this.#find, (s) => `${ESCAPE_OPEN}${this.#index.get(s)}${ESCAPE_CLOSE}`);
  }

  /** Whether `text` holds escaped content (then {@link encode} must encode it). */
  hasEscapes(text: string): boolean {
    return text.includes(ESCAPE_OPEN);
  }

  /** `text` with escapes turned back into the strings they stand for (for showing rendered text to people). */
  reveal(text: string): string {
    return text.replace(ESCAPE_RE, (m, k: string) => this.specials[Number(k)] ?? m);
  }

  /**
   * Token ids of rendered text: the raw special-token strings (the template's markup) become their special ids,
   * escaped content becomes the plain-text tokens of the strings it stands for. `prefix`/`suffix` are what the
   * post-processor adds (BOS) when special tokens are asked for.
   */
  encode(text: string, around: { prefix: number[]; suffix: number[] } | null): number[] {
    const ids = this.#plainTokenizer().encode(this.mark(text), { add_special_tokens: false }).ids;
    return around ? [...around.prefix, ...ids, ...around.suffix] : ids;
  }

  /**
   * `text` as the plain tokenizer (see {@link plainJson}) must see it: the raw special-token strings (the
   * template's markup) become their private aliases, escaped content the strings it stands for.
   */
  mark(text: string): string {
    if (text.includes(`\uE002${this.#nonce}`)) throw new BfpoError('Text contains the tokenizer\'s internal special-token alias; refusing to encode it');
    const marked = this.#find ? text.replace(this.#find, (s) => this.#alias(this.#index.get(s)!)) : text;
    return marked.replace(ESCAPE_RE, (m, k: string) => this.specials[Number(k)] ?? m);
  }

  #alias(k: number): string {
    return `\uE002${this.#nonce}-${k}\uE003`;
  }

  /**
   * The same tokenizer with each special token reachable only through a private alias: added tokens keep their
   * ids and flags under the alias, and model vocabulary entries with a special token's string are renamed too, so
   * plain text can never produce a special id.
   */
  #plainTokenizer(): HfTokenizer {
    if (this.#plain) return this.#plain;
    const options = Object.fromEntries(Object.entries(this.#options).map(([k, v]) => [k, typeof v === 'string' ? this.#rename(v) : v]));
    this.#plain = new HfTokenizer(this.plainJson(this.#json), options);
    return this.#plain;
  }

  /** The private alias of a special-token string (what {@link plainJson} names it), other strings unchanged. */
  alias(s: string): string {
    return this.#rename(s);
  }

  #rename(s: string): string {
    return this.#index.has(s) ? this.#alias(this.#index.get(s)!) : s;
  }

  /**
   * `json` (this tokenizer.json, or another form of it with the same vocabulary and added tokens) with each special
   * token reachable only through its alias, and no post-processor: text marked by {@link mark} encodes with it.
   */
  plainJson(json: Json): Json {
    const rename = (s: string): string => this.#rename(s);
    const added = Array.isArray(json.added_tokens) ? (json.added_tokens as Json[]) : [];
    const model = { ...(json.model as Json) };
    if (typeof model.unk_token === 'string') model.unk_token = rename(model.unk_token);
    if (Array.isArray(model.vocab)) model.vocab = (model.vocab as [string, number][]).map(([p, score]) => [rename(p), score]);
    else if (model.vocab && typeof model.vocab === 'object') {
      model.vocab = Object.fromEntries(Object.entries(model.vocab as Json).map(([p, id]) => [rename(p), id]));
    }
    return {
      ...json,
      model,
      post_processor: null,
      added_tokens: added.map((a) => (typeof a.content === 'string' && this.#index.has(a.content) ? { ...a, content: rename(a.content) } : a)),
    };
  }
}
