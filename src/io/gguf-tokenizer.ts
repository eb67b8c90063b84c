// Tokenizers in GGUF metadata <-> tokenizer.json. The Llama SentencePiece vocabulary (tokenizer.ggml.model
// "llama": tokens, scores, token types) becomes a byte-fallback BPE whose merges follow the scores, which is
// how SentencePiece's BPE picks merges; byte-level BPE ("gpt2") carries its merges directly.
import { FormatError } from './errors.js';
import { type GgufValue, ggufScalar } from './gguf.js';
import type { TokenizerConfig } from './tokenizer.js';

type Json = Record<string, unknown>;

/** llama.cpp's token types (llama_token_type). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

const SPM_NORMALIZER = (prepend: boolean): Json => ({
  type: 'Sequence',
  normalizers: [...(prepend ? [{ type: 'Prepend', prepend: '▁' }] : []), { type: 'Replace', pattern: { String: ' ' }, content: '▁' }],
});
const SPM_DECODER = (strip: boolean): Json => ({
  type: 'Sequence',
  decoders: [
    { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
    ...(strip ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
  ],
});

/**
 * BPE merges equivalent to SentencePiece BPE over `tokens`: every split of a normal piece into two normal
 * pieces is a merge, ranked by the merged piece's score (higher first), then by the ids of the two halves.
 */
export function mergesFromScores(tokens: string[], scores: ArrayLike<number>, isNormal: (id: number) => boolean): string[] {
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => { if (isNormal(i) && !ids.has(t)) ids.set(t, i); });
  const merges: [number, number, number, string][] = [];
  for (const [piece, id] of ids) {
    let k = 0;
    for (const ch of piece) {
      k += ch.length;
      if (k === piece.length) break;
      const l = piece.slice(0, k);
      const r = piece.slice(k);
      const li = ids.get(l);
      const ri = li === undefined ? undefined : ids.get(r);
      if (ri !== undefined) merges.push([scores[id], li!, ri, `${l} ${r}`]);
    }
  }
  merges.sort((a, b) => b[0] - a[0] || a[1] - b[1] || a[2] - b[2]);
  return merges.map((m) => m[3]);
}

function arrayOf<T>(path: string, metadata: Record<string, GgufValue>, key: string, kind: 'string' | 'number'): T[] | undefined {
  const v = metadata[key];
  if (v === undefined) return undefined;
  if (v.type !== 'array' || !v.value.every((x) => typeof x === kind)) throw new FormatError(path, `must be an array of ${kind}s`, key);
  return v.value as T[];
}

/** tokenizer.json and tokenizer_config.json equivalent to the tokenizer stored in GGUF metadata. */
export function tokenizerFromGguf(file: { path: string; metadata: Record<string, GgufValue> }): { tokenizerJson: Json; tokenizerConfig: TokenizerConfig } {
  const { path, metadata } = file;
  const model = ggufScalar<string>(file, 'tokenizer.ggml.model', 'string');
  if (model === undefined) throw new FormatError(path, 'has no tokenizer in its metadata', 'tokenizer.ggml.model');
  if (model !== 'llama' && model !== 'gpt2') {
    throw new FormatError(path, `tokenizer model ${JSON.stringify(model)} is not supported (supported: llama, gpt2)`, 'tokenizer.ggml.model');
  }
  const tokens = arrayOf<string>(path, metadata, 'tokenizer.ggml.tokens', 'string');
  if (!tokens) throw new FormatError(path, 'is missing', 'tokenizer.ggml.tokens');
  const types = arrayOf<number>(path, metadata, 'tokenizer.ggml.token_type', 'number') ?? tokens.map(() => TOKEN_TYPE.NORMAL);
  if (types.length !== tokens.length) throw new FormatError(path, `has ${types.length} entries for ${tokens.length} tokens`, 'tokenizer.ggml.token_type');
  const id = (key: string): number | undefined => {
    const v = ggufScalar<number>(file, key, 'number');
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v < tokens.length)) throw new FormatError(path, `token id ${v} is outside the vocabulary of ${tokens.length}`, key);
    return v;
  };
  const bos = id('tokenizer.ggml.bos_token_id');
  const eos = id('tokenizer.ggml.eos_token_id');
  const unk = id('tokenizer.ggml.unknown_token_id');
  const pad = id('tokenizer.ggml.padding_token_id');
  const addBos = ggufScalar<boolean>(file, 'tokenizer.ggml.add_bos_token', 'boolean') ?? model === 'llama';
  const addEos = ggufScalar<boolean>(file, 'tokenizer.ggml.add_eos_token', 'boolean') ?? false;
  const addedTokens = tokens.flatMap((content, i) =>
    types[i] === TOKEN_TYPE.CONTROL || types[i] === TOKEN_TYPE.UNKNOWN || types[i] === TOKEN_TYPE.USER_DEFINED
      ? [{ id: i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[i] !== TOKEN_TYPE.USER_DEFINED }]
      : [],
  );
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => { if (!Object.hasOwn(vocab, t)) vocab[t] = i; });
  let tokenizerJson: Json;
  if (model === 'llama') {
    const scores = arrayOf<number>(path, metadata, 'tokenizer.ggml.scores', 'number');
    if (!scores || scores.length !== tokens.length) throw new FormatError(path, `needs one score per token (${tokens.length})`, 'tokenizer.ggml.scores');
    const prepend = ggufScalar<boolean>(file, 'tokenizer.ggml.add_space_prefix', 'boolean') ?? true;
    tokenizerJson = {
      version: '1.0', truncation: null, padding: null, added_tokens: addedTokens,
      normalizer: SPM_NORMALIZER(prepend), pre_tokenizer: null, post_processor: null, decoder: SPM_DECODER(prepend),
      model: {
        type: 'BPE', dropout: null, unk_token: unk === undefined ? null : tokens[unk], continuing_subword_prefix: null,
        end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab,
        merges: mergesFromScores(tokens, scores, (i) => types[i] === TOKEN_TYPE.NORMAL),
      },
    };
  } else {
    const merges = arrayOf<string>(path, metadata, 'tokenizer.ggml.merges', 'string');
    if (!merges) throw new FormatError(path, 'is missing (a gpt2 tokenizer needs its merges)', 'tokenizer.ggml.merges');
    const pre = ggufScalar<string>(file, 'tokenizer.ggml.pre', 'string') ?? 'default';
    tokenizerJson = {
      version: '1.0', truncation: null, padding: null, added_tokens: addedTokens, normalizer: pre === 'qwen2' ? { type: 'NFC' } : null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: GPT2_PRE[pre] ?? GPT2_PRE.default }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
        ],
      },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      // Llama 3's vocabulary takes a whole pre-token that is itself a token before trying merges (llama.cpp does the same).
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: pre === 'llama-bpe', vocab, merges },
    };
  }
  const tokenizerConfig: TokenizerConfig = {
    bos_token: bos === undefined ? undefined : tokens[bos],
    eos_token: eos === undefined ? undefined : tokens[eos],
    unk_token: unk === undefined ? undefined : tokens[unk],
    pad_token: pad === undefined ? undefined : tokens[pad],
    add_bos_token: addBos,
    add_eos_token: addEos,
    clean_up_tokenization_spaces: false,
  };
  const template = ggufScalar<string>(file, 'tokenizer.chat_template', 'string');
  if (template !== undefined) tokenizerConfig.chat_template = template;
  return { tokenizerJson, tokenizerConfig };
}

/** Pre-tokenizer regexes of byte-level BPE vocabularies, by llama.cpp's `tokenizer.ggml.pre` name. */
const GPT2_PRE: Record<string, string> = {
  default: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  'llama-bpe': "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen2: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

/** The `tokenizer.ggml.pre` name of a byte-level BPE pre-tokenizer regex, when it is one llama.cpp knows. */
function gpt2PreName(tokenizerJson: Json): string {
  const text = JSON.stringify(tokenizerJson.pre_tokenizer ?? null);
  for (const [name, re] of Object.entries(GPT2_PRE)) if (name !== 'default' && text.includes(JSON.stringify(re).slice(1, -1))) return name;
  return 'default';
}

/**
 * GGUF tokenizer metadata for a tokenizer.json: SentencePiece-style BPE with byte fallback as model "llama"
 * (scores from merge ranks), byte-level BPE as model "gpt2" with its merges.
 */
export function ggufTokenizerMetadata(tokenizerJson: Json, config: TokenizerConfig, source = 'tokenizer.json'): Record<string, GgufValue> {
  const model = tokenizerJson.model as Json | undefined;
  if (!model || model.type !== 'BPE' || typeof model.vocab !== 'object') throw new FormatError(source, 'only BPE tokenizers can be written to GGUF', 'model.type');
  const vocab = model.vocab as Record<string, number>;
  const added = (Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : []) as Json[];
  const tokens: string[] = [];
  const filled: boolean[] = [];
  const put = (t: string, i: number): void => {
    if (!Number.isInteger(i) || i < 0 || i > 16_777_216) throw new FormatError(source, `token ${JSON.stringify(t)} has invalid id ${i}`, 'model.vocab');
    tokens[i] = t;
    filled[i] = true;
  };
  for (const [t, i] of Object.entries(vocab)) put(t, i);
  for (const a of added) put(a.content as string, a.id as number);
  for (let i = 0; i < tokens.length; i++) if (!filled[i]) throw new FormatError(source, `token id ${i} has no token (ids must be contiguous)`, 'model.vocab');
  const rawMerges = (model.merges ?? []) as (string | [string, string])[];
  const merges = rawMerges.map((m) => (typeof m === 'string' ? m : `${m[0]} ${m[1]}`));
  const byteFallback = model.byte_fallback === true;
  const unkName = typeof config.unk_token === 'string' ? config.unk_token : (model.unk_token as string | undefined);
  const types = tokens.map((t, i) => {
    const a = added.find((x) => x.id === i);
    if (t === unkName) return TOKEN_TYPE.UNKNOWN;
    if (a) return a.special ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
    if (byteFallback && /^<0x[0-9A-F]{2}>$/.test(t)) return TOKEN_TYPE.BYTE;
    return TOKEN_TYPE.NORMAL;
  });
  const str = (value: string): GgufValue => ({ type: 'string', value });
  const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
  const meta: Record<string, GgufValue> = {};
  if (byteFallback) {
    // SentencePiece BPE merges the pair whose result scores highest, so the score of a piece is minus the
    // rank of the merge that makes it; pieces no merge makes come after all of them.
    const rank = new Map<string, number>();
    merges.forEach((m, r) => { const p = m.replace(' ', ''); if (!rank.has(p)) rank.set(p, r); });
    const scores = tokens.map((t, i) => -(rank.get(t) ?? merges.length + i));
    meta['tokenizer.ggml.model'] = str('llama');
    meta['tokenizer.ggml.tokens'] = { type: 'array', itemType: 'string', value: tokens };
    meta['tokenizer.ggml.scores'] = { type: 'array', itemType: 'float32', value: scores };
    meta['tokenizer.ggml.token_type'] = { type: 'array', itemType: 'int32', value: types };
  } else {
    meta['tokenizer.ggml.model'] = str('gpt2');
    meta['tokenizer.ggml.pre'] = str(gpt2PreName(tokenizerJson));
    meta['tokenizer.ggml.tokens'] = { type: 'array', itemType: 'string', value: tokens };
    meta['tokenizer.ggml.token_type'] = { type: 'array', itemType: 'int32', value: types };
    meta['tokenizer.ggml.merges'] = { type: 'array', itemType: 'string', value: merges };
  }
  const idOf = (v: unknown): number | undefined => {
    const name = typeof v === 'string' ? v : (v as Json | null)?.content;
    const i = typeof name === 'string' ? tokens.indexOf(name) : -1;
    return i < 0 ? undefined : i;
  };
  for (const [key, v] of [['bos', config.bos_token], ['eos', config.eos_token], ['unknown', unkName], ['padding', config.pad_token]] as const) {
    const i = idOf(v);
    if (i !== undefined) meta[`tokenizer.ggml.${key}_token_id`] = u32(i);
  }
  const pp = JSON.stringify(tokenizerJson.post_processor ?? null);
  const bosName = tokens[idOf(config.bos_token) ?? -1];
  meta['tokenizer.ggml.add_bos_token'] = { type: 'bool', value: config.add_bos_token ?? (bosName !== undefined && pp.includes(JSON.stringify(bosName))) };
  meta['tokenizer.ggml.add_eos_token'] = { type: 'bool', value: config.add_eos_token ?? false };
  if (byteFallback) {
    const prepend = JSON.stringify(tokenizerJson.normalizer ?? null).includes('"Prepend"') || JSON.stringify(tokenizerJson.pre_tokenizer ?? null).includes('"prepend_scheme":"always"');
    meta['tokenizer.ggml.add_space_prefix'] = { type: 'bool', value: prepend };
  }
  const template = typeof config.chat_template === 'string' ? config.chat_template : undefined;
  if (template !== undefined) meta['tokenizer.chat_template'] = str(template);
  return meta;
}
