// Tokenizer: tokenizer.json (through @huggingface/tokenizers) plus the special tokens and chat template of
// tokenizer_config.json, with the encode/decode/applyChatTemplate calls the rest of bfpo uses.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { expected } from '../errors.js';
import { ChatTemplate, type ChatMessage, ZEPHYR_CHAT_TEMPLATE } from './chat-template.js';
import { CONTENT_SPECIAL_TOKENS, ContentGuard, type ContentSpecialTokens } from './content-guard.js';
import { FormatError } from './errors.js';
import { readJsonObject } from './hf-folder.js';
import { type PendingFile, pendingFile, writeFiles } from './atomic.js';

/** The parts of tokenizer_config.json that bfpo reads. Special tokens may be strings or `{ content }` objects. */
export interface TokenizerConfig {
  bos_token?: unknown;
  eos_token?: unknown;
  pad_token?: unknown;
  unk_token?: unknown;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  chat_template?: unknown;
  clean_up_tokenization_spaces?: boolean;
  [key: string]: unknown;
}

type Json = Record<string, unknown>;

const tokenName = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Json).content === 'string' ? ((v as Json).content as string) : undefined;

/** Picks the default template out of a string or a `[{ name, template }]` list. */
function templateSource(raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw)) {
    const named = raw.find((t) => t?.name === 'default') ?? raw[0];
    return typeof named?.template === 'string' ? named.template : undefined;
  }
  return undefined;
}

/**
 * Rebuilds a TemplateProcessing post-processor from add_bos_token/add_eos_token, as transformers' Llama-style
 * fast tokenizers do when tokenizer_config.json sets those flags.
 */
function withBosEos(json: Json, bos: string | undefined, eos: string | undefined, addBos: boolean, addEos: boolean, idOf: (t: string) => number | undefined): Json {
  const single: unknown[] = [];
  const pair: unknown[] = [];
  const special: Json = {};
  const add = (tok: string | undefined, on: boolean, typeId: number, seqs: unknown[][]): void => {
    if (!on || tok === undefined || idOf(tok) === undefined) return;
    for (const s of seqs) s.push({ SpecialToken: { id: tok, type_id: typeId } });
    special[tok] = { id: tok, ids: [idOf(tok)], tokens: [tok] };
  };
  add(bos, addBos, 0, [single, pair]);
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  pair.push({ Sequence: { id: 'A', type_id: 0 } });
  add(eos, addEos, 0, [single, pair]);
  add(bos, addBos, 1, [pair]);
  pair.push({ Sequence: { id: 'B', type_id: 1 } });
  add(eos, addEos, 1, [pair]);
  return { ...json, post_processor: { type: 'TemplateProcessing', single, pair, special_tokens: special } };
}

/**
 * The Rust library's Whitespace pre-tokenizer keeps runs of `\w+|[^\w\s]+` with Unicode `\w`; the JS library
 * uses an ASCII `\w`, which splits every accented letter apart. We hand it the same rule as a Unicode Split.
 */
const UNICODE_WORD = '[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]';
function patchPreTokenizer(pre: unknown): unknown {
  if (!pre || typeof pre !== 'object') return pre;
  const p = pre as Json;
  if (p.type === 'Whitespace') {
    return { type: 'Split', pattern: { Regex: `${UNICODE_WORD}+|[^\\s${UNICODE_WORD.slice(1, -1)}]+` }, behavior: 'Removed', invert: true };
  }
  if (p.type === 'Sequence' && Array.isArray(p.pretokenizers)) return { ...p, pretokenizers: p.pretokenizers.map(patchPreTokenizer) };
  return pre;
}

/**
 * SentencePiece-style BPE tokenizers (Llama 2, Mistral) have no pre-tokenizer: the normalizer turns spaces into
 * `▁` and BPE then runs over the whole text as one word, which costs time quadratic in its length and defeats
 * the word cache. When no vocabulary entry has a `▁` right after another character, no merge can cross the start
 * of a `▁` run, so splitting the text there gives exactly the same tokens; we add that split.
 */
export function withMetaspaceSplit(json: Json): Json {
  const model = json.model as Json;
  if ((model.type !== undefined && model.type !== 'BPE') || json.pre_tokenizer) return json;
  const norm = JSON.stringify(json.normalizer ?? null);
  if (!/"Replace","pattern":\{"String":" "\},"content":"▁"/.test(norm)) return json;
  const vocab = model.vocab as Json | undefined;
  if (!vocab || Array.isArray(vocab) || Object.keys(vocab).some((t) => /[^▁]▁/.test(t))) return json;
  return { ...json, pre_tokenizer: { type: 'Split', pattern: { Regex: '▁+[^▁]*|[^▁]+' }, behavior: 'Isolated', invert: false } };
}

/** How to encode like `Tokenizer.encode(text, { addSpecialTokens: false })` with another library (see `nativeEncodingSpec`). */
export interface NativeEncodingSpec {
  /** tokenizer.json for texts without escaped content: the file as written, Llama-2-style texts split at `▁` runs. */
  json: Json;
  /** tokenizer.json for marked texts: special tokens reachable only through private aliases. */
  plainJson(): Json;
  /** The text to encode with `plainJson` when `text` holds escaped content, else null (encode `text` with `json`). */
  mark(text: string): string | null;
  /** The name `plainJson` gives a token string: a special token's private alias, any other string itself. */
  alias(token: string): string;
}

/** Options of `Tokenizer.encode`. */
export interface EncodeOptions {
  /** Add the tokens the post-processor adds (BOS for Llama). Default true, as in transformers. */
  addSpecialTokens?: boolean;
}

/** Options of the {@link Tokenizer} constructor and {@link loadTokenizer}. */
export interface TokenizerOptions {
  /**
   * How special-token strings inside message content (`</s>`, `<|im_end|>`, a role header) tokenize:
   * `text` (default) as plain text, so content cannot end its turn or forge one; `special` as the special tokens
   * themselves, as tools that encode the rendered template with special-token parsing do.
   */
  contentSpecialTokens?: ContentSpecialTokens;
}

/** Options of `Tokenizer.applyChatTemplate`. */
export interface ApplyChatTemplateOptions {
  addGenerationPrompt?: boolean;
  /** Variables for the template besides messages (e.g. `tools`, `date_string`). */
  extra?: Record<string, unknown>;
  /** A template to use instead of the tokenizer's own (e.g. a recipe's chat_template). */
  template?: ChatTemplate;
}

/**
 * A Hugging Face tokenizer with its special tokens and chat template.
 *
 * @example
 * const tok = loadTokenizer('models/TinyLlama');
 * tok.encode('Hello');                       // [1, 15043]
 * tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }); // text
 */
export class Tokenizer {
  readonly source: string;
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly padToken: string | undefined;
  readonly unkToken: string | undefined;
  /** The tokenizer's own template, or Zephyr's when it has none (see `hasOwnChatTemplate`). */
  readonly chatTemplate: ChatTemplate;
  readonly hasOwnChatTemplate: boolean;
  /** Every id that is a special added token (control tokens such as `<s>` or `<|im_end|>`). */
  readonly specialIds: ReadonlySet<number>;
  /** The tokenizer.json and tokenizer_config.json this tokenizer was built from (for saving and GGUF export). */
  readonly tokenizerJson: Json;
  readonly tokenizerConfig: TokenizerConfig;
  /** How special-token strings in message content tokenize (see {@link TokenizerOptions}). */
  contentSpecialTokens: ContentSpecialTokens;
  readonly #hf: HfTokenizer;
  readonly #size: number;
  readonly #guard: ContentGuard;
  #around: { prefix: number[]; suffix: number[] } | undefined;
  readonly #nativeJson: Json;

  constructor(tokenizerJson: Json, config: TokenizerConfig = {}, source = 'tokenizer.json', options: TokenizerOptions = {}) {
    this.source = source;
    this.contentSpecialTokens = options.contentSpecialTokens ?? 'text';
    if (!CONTENT_SPECIAL_TOKENS.includes(this.contentSpecialTokens)) {
      throw expected(`one of ${CONTENT_SPECIAL_TOKENS.join(', ')}`, 'contentSpecialTokens', options.contentSpecialTokens);
    }
    this.tokenizerJson = tokenizerJson;
    this.tokenizerConfig = config;
    const model = tokenizerJson.model as Json | undefined;
    if (!model || typeof model !== 'object') throw new FormatError(source, 'has no "model" object', 'model');
    if (model.type !== undefined && !['BPE', 'Unigram', 'WordLevel', 'WordPiece'].includes(model.type as string)) {
      throw new FormatError(source, `unsupported tokenizer model ${JSON.stringify(model.type)} (supported: BPE, Unigram, WordLevel, WordPiece)`, 'model.type');
    }
    const added = Array.isArray(tokenizerJson.added_tokens) ? (tokenizerJson.added_tokens as Json[]) : [];
    const vocabId = (t: string): number | undefined => {
      const a = added.find((x) => x.content === t);
      if (a) return a.id as number;
      if (Array.isArray(model.vocab)) {
        const i = (model.vocab as [string, number][]).findIndex(([p]) => p === t);
        return i < 0 ? undefined : i;
      }
      return (model.vocab as Json | undefined)?.[t] as number | undefined;
    };
    this.bosToken = tokenName(config.bos_token);
    this.eosToken = tokenName(config.eos_token);
    this.padToken = tokenName(config.pad_token);
    this.unkToken = tokenName(config.unk_token) ?? (typeof model.unk_token === 'string' ? model.unk_token : undefined);
    const pp = tokenizerJson.post_processor as Json | null | undefined;
    let json: Json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...tokenizerJson };
    if ((config.add_bos_token !== undefined || config.add_eos_token !== undefined) && (!pp || pp.type === 'TemplateProcessing')) {
      json = withBosEos(json, this.bosToken, this.eosToken, config.add_bos_token === true, config.add_eos_token === true, vocabId);
    }
    json = withMetaspaceSplit(json);
    // The same tokenizer for the Rust library: what the JS library needs patched stays as written; truncation and
    // padding, which only the Rust library applies, are off (encode returns every token, unpadded).
    this.#nativeJson = { ...json, truncation: null, padding: null };
    json.pre_tokenizer = patchPreTokenizer(json.pre_tokenizer);
    if (model.type === 'WordLevel') json = { ...json, model: { ...model, type: undefined } };
    const hfOptions = { ...config, bos_token: this.bosToken, eos_token: this.eosToken, pad_token: this.padToken, unk_token: this.unkToken };
    try {
      this.#hf = new HfTokenizer(json, hfOptions);
    } catch (err) {
      throw new FormatError(source, `cannot be loaded: ${(err as Error).message}`);
    }
    this.#size = this.#hf.get_vocab(true).size;
    this.specialIds = new Set(added.filter((a) => a.special === true).map((a) => a.id as number));
    // Special strings: the special added tokens, and added tokens named as bos/eos/pad/unk even when unflagged.
    const named = new Set([this.bosToken, this.eosToken, this.padToken, this.unkToken]);
    const specialStrings = added.filter((a) => typeof a.content === 'string' && (a.special === true || named.has(a.content))).map((a) => a.content as string);
    this.#guard = new ContentGuard(json, hfOptions, specialStrings);
    const own = templateSource(config.chat_template);
    this.hasOwnChatTemplate = own !== undefined;
    this.chatTemplate = new ChatTemplate(own ?? ZEPHYR_CHAT_TEMPLATE, own ? `${source} chat_template` : 'Zephyr chat template');
  }

  /**
   * The same tokenizer with `template` as its own chat template (saved into tokenizer_config.json and GGUF).
   * @example const tok2 = tok.withChatTemplate(recipeTemplate); saveTokenizer(tok2, 'out');
   */
  withChatTemplate(template: string): Tokenizer {
    return new Tokenizer(this.tokenizerJson, { ...this.tokenizerConfig, chat_template: template }, this.source);
  }

  /** Id of the BOS token, or null when the tokenizer has none. */
  get bosTokenId(): number | null { return this.tokenToId(this.bosToken) ?? null; }
  /** Id of the EOS token. Every causal LM tokenizer has one; reading it from one without throws a FormatError. */
  get eosTokenId(): number {
    const id = this.tokenToId(this.eosToken);
    if (id === undefined) throw new FormatError(this.source, 'defines no eos_token (set eos_token in tokenizer_config.json)', 'eos_token');
    return id;
  }
  /** Id of the padding token, or null. */
  get padTokenId(): number | null { return this.tokenToId(this.padToken) ?? null; }
  /** Id of the unknown token, or null. */
  get unkTokenId(): number | null { return this.tokenToId(this.unkToken) ?? null; }
  /** Number of ids, added tokens included. */
  get vocabSize(): number { return this.#size; }

  tokenToId(token: string | undefined): number | undefined {
    return token === undefined ? undefined : this.#hf.token_to_id(token);
  }
  idToToken(id: number): string | undefined {
    return this.#hf.id_to_token(id);
  }

  /** Token ids of `text`. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw expected('a string', 'text', text);
    const add = opts.addSpecialTokens ?? true;
    try {
      if (this.#guard.hasEscapes(text)) return this.#guard.encode(text, add ? this.#postProcessorTokens() : null);
      return this.#hf.encode(text, { add_special_tokens: add }).ids;
    } catch (err) {
      // A malformed tokenizer.json can load and still fail inside the library on the first text it encodes.
      if (err instanceof FormatError) throw err;
      throw new FormatError(this.source, `cannot encode text: ${(err as Error).message}`);
    }
  }

  /**
   * What another implementation of this tokenizer (Hugging Face's Rust library) needs to give the ids of
   * `encode(text, { addSpecialTokens: false })`: `json`, the tokenizer.json to load for text without escaped content;
   * `plainJson`, the one for the text `mark(text)` returns when the text has escaped content (`mark` returns null
   * when it has none). See {@link NativeEncodingSpec}.
   */
  nativeEncodingSpec(): NativeEncodingSpec {
    return {
      json: this.#nativeJson,
      plainJson: () => this.#guard.plainJson(this.#nativeJson),
      mark: (text) => (this.#guard.hasEscapes(text) ? this.#guard.mark(text) : null),
      alias: (token) => this.#guard.alias(token),
    };
  }

  /** What the post-processor puts before and after a text's tokens (BOS for Llama), found on a probe text. */
  #postProcessorTokens(): { prefix: number[]; suffix: number[] } {
    if (this.#around) return this.#around;
    const core: number[] = this.#hf.encode('a', { add_special_tokens: false }).ids;
    const all: number[] = this.#hf.encode('a', { add_special_tokens: true }).ids;
    let at = 0;
    while (at + core.length <= all.length && !core.every((t: number, i: number) => all[at + i] === t)) at += 1;
    this.#around = at + core.length <= all.length ? { prefix: all.slice(0, at), suffix: all.slice(at + core.length) } : { prefix: [], suffix: [] };
    return this.#around;
  }

  /** The strings of the special tokens (longest first): what message content may not produce as tokens. */
  specialTokenStrings(): readonly string[] {
    return this.#guard.specials;
  }

  /**
   * Rendered chat text as people should read it: content escapes (see `contentSpecialTokens`) shown as the
   * strings they stand for. Encode the text itself, not this.
   */
  displayText(text: string): string {
    return this.#guard.reveal(text);
  }

  /** Text of `ids`; `skipSpecialTokens` drops special added tokens such as `<s>` and `<|im_end|>`. */
  decode(ids: ArrayLike<number>, opts: { skipSpecialTokens?: boolean } = {}): string {
    const list = ids && typeof ids === 'object' && typeof ids.length === 'number' ? Array.from(ids) : undefined;
    if (!list || !list.every((i) => Number.isInteger(i) && i >= 0 && i < this.#size)) {
      throw expected(`an array of token ids in [0, ${this.#size})`, 'ids', ids);
    }
    if (list.length === 0) return '';
    try {
      return this.#hf.decode(list, { skip_special_tokens: opts.skipSpecialTokens ?? false });
    } catch (err) {
      throw new FormatError(this.source, `cannot decode ids: ${(err as Error).message}`);
    }
  }

  /**
   * Renders `messages` with the chat template as text; with `tokenize: true`, as token ids (the text encoded
   * without adding special tokens again, since the template writes them, as transformers does).
   * With `contentSpecialTokens: 'text'` (the default), special-token strings inside message content are escaped in
   * the returned text, and `encode` turns them into plain-text tokens: only the template's markup yields special
   * ids. Show such text with {@link displayText}.
   *
   * @example
   * const text = tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true });
   * const ids = tok.applyChatTemplate(messages, { tokenize: true });
   */
  applyChatTemplate(messages: ChatMessage[], opts: ApplyChatTemplateOptions & { tokenize: true }): number[];
  applyChatTemplate(messages: ChatMessage[], opts?: ApplyChatTemplateOptions & { tokenize?: false }): string;
  applyChatTemplate(messages: ChatMessage[], opts: ApplyChatTemplateOptions & { tokenize?: boolean } = {}): string | number[] {
    if (!Array.isArray(messages) || !messages.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string')) {
      throw expected('an array of { role, content } messages with string fields', 'messages', messages);
    }
    const tokens = { bos_token: this.bosToken, eos_token: this.eosToken, pad_token: this.padToken, unk_token: this.unkToken };
    const safe = this.contentSpecialTokens === 'text' ? messages.map((m) => ({ ...m, content: this.#guard.escape(m.content) })) : messages;
    const text = (opts.template ?? this.chatTemplate).render(safe, tokens, opts.addGenerationPrompt ?? false, opts.extra);
    return opts.tokenize === true ? this.encode(text, { addSpecialTokens: false }) : text;
  }
}

/**
 * Writes tokenizer.json and tokenizer_config.json into `folder` (atomically), so `loadTokenizer(folder)` and
 * transformers read the same tokenizer back.
 */
export function saveTokenizer(tokenizer: Tokenizer, folder: string): void {
  writeFiles(tokenizerFiles(tokenizer, folder));
}

/** The files `saveTokenizer` writes (tokenizer.json, tokenizer_config.json), still to be written (see atomic.ts). */
export function tokenizerFiles(tokenizer: Tokenizer, folder: string): PendingFile[] {
  const file = (name: string, value: unknown): PendingFile => pendingFile(join(folder, name), JSON.stringify(value, null, 2) + '\n');
  const config: Json = { ...tokenizer.tokenizerConfig };
  if (!tokenizer.hasOwnChatTemplate) delete config.chat_template;
  return [file('tokenizer.json', tokenizer.tokenizerJson), file('tokenizer_config.json', Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)))];
}

/**
 * The generation_config.json of a model saved with `tokenizer`: its special token ids, and greedy decoding as
 * transformers' default, so `model.generate()` stops where `bfpo generate` does.
 */
export function generationConfig(tokenizer: Tokenizer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (tokenizer.bosTokenId !== null) out.bos_token_id = tokenizer.bosTokenId;
  const eos = tokenizer.tokenToId(tokenizer.eosToken);
  if (eos !== undefined) out.eos_token_id = eos;
  if (tokenizer.padTokenId !== null) out.pad_token_id = tokenizer.padTokenId;
  out.do_sample = false;
  return out;
}

/** The warning for a tokenizer without a chat template, naming the default that is used instead; null when it has one. */
export function missingTemplateWarning(tokenizer: Tokenizer, what: string): string | null {
  if (tokenizer.hasOwnChatTemplate) return null;
  return `${what} has no chat template; the default Zephyr template is used (<|user|>, <|assistant|> and <|system|> turns each ending in eos_token). ` +
    'Set chat_template (recipe) to choose another; the template used is saved with the trained model.';
}

/**
 * Loads the tokenizer of a Hugging Face folder: tokenizer.json, plus tokenizer_config.json (special tokens,
 * chat template) and chat_template.jinja / chat_template.json when present.
 *
 * @example
 * const tok = loadTokenizer('models/Qwen2.5-0.5B-Instruct');
 */
export function loadTokenizer(folder: string, options: TokenizerOptions = {}): Tokenizer {
  const path = join(folder, 'tokenizer.json');
  if (!existsSync(path)) throw new FormatError(folder, 'has no tokenizer.json (bfpo reads tokenizer.json; tokenizer.model alone is not supported)');
  const json = readJsonObject(path);
  const configPath = join(folder, 'tokenizer_config.json');
  const config: TokenizerConfig = existsSync(configPath) ? readJsonObject(configPath) : {};
  const mapPath = join(folder, 'special_tokens_map.json');
  if (existsSync(mapPath)) {
    const map = readJsonObject(mapPath);
    for (const k of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) if (config[k] === undefined && map[k] !== undefined) config[k] = map[k];
  }
  const jinja = join(folder, 'chat_template.jinja');
  const templateJson = join(folder, 'chat_template.json');
  if (config.chat_template === undefined && existsSync(jinja)) config.chat_template = readFileSync(jinja, 'utf8');
  else if (config.chat_template === undefined && existsSync(templateJson)) config.chat_template = readJsonObject(templateJson).chat_template;
  return new Tokenizer(json, config, path, options);
}
