// bfpo's native BPE encoder (native/bpe.cc) for data preparation: which tokenizer.json files it covers, and the
// tables it is built from. It covers SentencePiece-style BPE (Llama 2, Mistral, Zephyr: spaces written as `▁`, byte
// fallback), byte-level BPE with the GPT-2, Llama 3 or Qwen 2 pre-tokenizer (Qwen's NFC normalizer included), and
// BPE without normalizer or pre-tokenizer; everything else (Unigram, WordPiece, other normalizers or patterns) is
// left to Hugging Face's Rust library or bfpo's JavaScript tokenizer. Its ids are compared
// with the JavaScript tokenizer's before it is used (see `batchEncoder`).
import { availableParallelism } from 'node:os';
import { native, type BpeHandle } from '../tensor/native.js';
import type { Tokenizer } from './tokenizer.js';

type Json = Record<string, unknown>;

/** The tables of the native encoder for one tokenizer.json, or why it does not cover that file. */
export interface NativeBpeTables {
  vocab: string[];
  merges: Int32Array;
  added: string[];
  addedIds: Int32Array;
  unk: number;
  flags: { byteFallback: boolean; fuseUnk: boolean; ignoreMerges: boolean; metaspace: boolean; byteLevel: ByteLevelPattern };
  /** Texts must be in Unicode normal form C (the file's normalizer is NFC): others go to the JavaScript tokenizer. */
  nfc: boolean;
}

/** Byte-level pre-tokenizer patterns the native encoder implements: 0 none, 1 GPT-2, 2 Llama 3, 3 Qwen 2. */
export type ByteLevelPattern = 0 | 1 | 2 | 3;

const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT = LLAMA3_SPLIT.replace('\\p{N}{1,3}', '\\p{N}');

/** Which byte-level pattern `pre` (a tokenizer.json pre_tokenizer) is, or 0. */
function byteLevelPattern(pre: unknown): ByteLevelPattern {
  const p = pre as Json | null;
  const byteLevel = (b: unknown, regex: boolean): boolean => {
    const x = b as Json | null;
    return !!x && x.type === 'ByteLevel' && x.add_prefix_space === false && (x.use_regex ?? true) === regex;
  };
  if (byteLevel(p, true)) return 1;
  if (p?.type !== 'Sequence' || !Array.isArray(p.pretokenizers) || p.pretokenizers.length !== 2) return 0;
  const [split, last] = p.pretokenizers as Json[];
  if (!byteLevel(last, false) || split?.type !== 'Split' || split.behavior !== 'Isolated' || split.invert !== false) return 0;
  const regex = (split.pattern as Json | undefined)?.Regex;
  return regex === LLAMA3_SPLIT ? 2 : regex === QWEN2_SPLIT ? 3 : 0;
}

let classTable: Uint8Array | undefined;
/**
 * Per code point, the classes the byte-level patterns use: 1 letter (\p{L}), 2 number (\p{N}), 4 white space (\s),
 * from JavaScript's regular expressions (the Unicode version of this Node.js).
 */
export function characterClasses(): Uint8Array {
  if (classTable) return classTable;
  const table = new Uint8Array(0x110000);
  // One string of every code point (surrogates as U+0000), scanned once per class.
  const parts: string[] = [];
  for (let from = 0; from < 0x110000; from += 0x1000) {
    const cps = Array.from({ length: 0x1000 }, (_, k) => (from + k >= 0xd800 && from + k < 0xe000 ? 0 : from + k));
    parts.push(String.fromCodePoint(...cps));
  }
  const all = parts.join('');
  const cpAt = (index: number): number => (index < 0x10000 ? index : 0x10000 + (index - 0x10000) / 2);
  for (const [re, bit] of [[/\p{L}+/gu, 1], [/\p{N}+/gu, 2], [/\s+/gu, 4]] as const) {
    for (const m of all.matchAll(re)) {
      const first = cpAt(m.index!);
      const last = cpAt(m.index! + m[0].length - 1 - (m.index! + m[0].length - 1 >= 0x10000 ? 1 : 0));
      for (let c = first; c <= last; c++) table[c]! |= bit;
    }
  }
  // \s as the Unicode White_Space property (what the tokenizer libraries use): JavaScript's \s also has U+FEFF and
  // lacks U+0085.
  table[0xfeff]! &= ~4;
  table[0x85]! |= 4;
  classTable = table;
  return table;
}

const LEGACY_METASPACE_NORMALIZER = JSON.stringify({
  type: 'Sequence',
  normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }],
});
const METASPACE_SPLIT = JSON.stringify({ type: 'Split', pattern: { Regex: '▁+[^▁]*|[^▁]+' }, behavior: 'Isolated', invert: false });

/** A canonical JSON string of `v` (keys sorted), to compare configuration objects. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Json)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
const sameConfig = (a: unknown, b: string): boolean => canonical(a) === canonical(JSON.parse(b));

/**
 * The native encoder's tables for `json` (a tokenizer.json as `Tokenizer.nativeEncodingSpec()` gives it), or the
 * reason it is not covered.
 */
export function nativeBpeTables(json: Json): NativeBpeTables | { reason: string } {
  const model = json.model as Json | undefined;
  const not = (why: string): { reason: string } => ({ reason: `bfpo's native encoder does not cover ${why}` });
  if (!model || (model.type !== undefined && model.type !== 'BPE')) return not(`the tokenizer model ${JSON.stringify(model?.type)}`);
  if (model.dropout !== undefined && model.dropout !== null) return not('BPE dropout');
  if (model.continuing_subword_prefix || model.end_of_word_suffix) return not('subword prefixes or suffixes');
  const vocabJson = model.vocab;
  if (!vocabJson || typeof vocabJson !== 'object' || Array.isArray(vocabJson)) return not('a vocabulary that is not a token-to-id map');
  let metaspace = false;
  let nfc = false;
  const byteLevel = byteLevelPattern(json.pre_tokenizer);
  const normalizer = json.normalizer ?? null;
  if (sameConfig(normalizer, LEGACY_METASPACE_NORMALIZER) && sameConfig(json.pre_tokenizer, METASPACE_SPLIT)) metaspace = true;
  else if (byteLevel !== 0 && (normalizer === null || sameConfig(normalizer, '{"type":"NFC"}'))) nfc = normalizer !== null;
  else if (normalizer !== null || (json.pre_tokenizer ?? null) !== null) {
    return not(`the normalizer ${JSON.stringify(json.normalizer)} with the pre-tokenizer ${JSON.stringify(json.pre_tokenizer)}`);
  }
  const ids = new Map<string, number>();
  let size = 0;
  for (const [tok, id] of Object.entries(vocabJson as Json)) {
    if (!Number.isInteger(id) || (id as number) < 0) return not(`the vocabulary entry ${JSON.stringify(tok)} (id ${JSON.stringify(id)})`);
    ids.set(tok, id as number);
    size = Math.max(size, (id as number) + 1);
  }
  const vocab: string[] = new Array(size).fill('');
  for (const [tok, id] of ids) vocab[id] = tok;
  const list = Array.isArray(model.merges) ? (model.merges as unknown[]) : [];
  const merges = new Int32Array(list.length * 3);
  for (let r = 0; r < list.length; r++) {
    const m = list[r];
    let pair: [string, string] | null = null;
    if (typeof m === 'string') {
      const at = m.indexOf(' ', 1);
      if (at > 0 && m.indexOf(' ', at + 1) < 0) pair = [m.slice(0, at), m.slice(at + 1)];
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      pair = [m[0], m[1]];
    }
    const a = pair && ids.get(pair[0]);
    const b = pair && ids.get(pair[1]);
    const c = pair && ids.get(pair[0] + pair[1]);
    if (a === undefined || b === undefined || c === undefined || a === null || b === null || c === null) return not(`the merge ${JSON.stringify(m)}`);
    merges[r * 3] = a;
    merges[r * 3 + 1] = b;
    merges[r * 3 + 2] = c;
  }
  const addedTokens = Array.isArray(json.added_tokens) ? (json.added_tokens as Json[]) : [];
  const added: string[] = [];
  const addedIds: number[] = [];
  for (const t of addedTokens) {
    if (t.lstrip === true || t.rstrip === true || t.single_word === true) return not(`the added token ${JSON.stringify(t.content)} with lstrip, rstrip or single_word`);
    if (t.normalized === true || (t.normalized === undefined && t.special !== true)) return not(`the normalized added token ${JSON.stringify(t.content)}`);
    if (typeof t.content !== 'string' || !Number.isInteger(t.id)) return not(`the added token ${JSON.stringify(t)}`);
    added.push(t.content);
    addedIds.push(t.id as number);
  }
  const unkName = typeof model.unk_token === 'string' ? model.unk_token : undefined;
  return {
    vocab,
    merges,
    added,
    addedIds: Int32Array.from(addedIds),
    unk: unkName === undefined ? -1 : ids.get(unkName) ?? -1,
    flags: { byteFallback: model.byte_fallback === true, fuseUnk: model.fuse_unk === true, ignoreMerges: model.ignore_merges === true, metaspace, byteLevel },
    nfc,
  };
}

/**
 * A UTF-16 surrogate without its other half: such text has no UTF-8 form, so native code (this encoder, the Rust
 * library) would see U+FFFD in its place; these texts go to the JavaScript tokenizer.
 */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The tables of `plainJson` (special tokens reachable only through private aliases) derived from those of the
 * file itself: the same ids and merges, with every token string renamed by `alias`. A merge that involves a
 * renamed token cannot be written in the renamed file, so such a vocabulary is not covered.
 */
export function aliasedTables(t: NativeBpeTables, alias: (token: string) => string): NativeBpeTables | { reason: string } {
  const vocab = t.vocab.map(alias);
  const renamed = new Set<number>();
  vocab.forEach((v, id) => { if (v !== t.vocab[id]) renamed.add(id); });
  if (renamed.size > 0) {
    for (let i = 0; i < t.merges.length; i++) {
      if (renamed.has(t.merges[i]!)) return { reason: `bfpo's native encoder does not cover the merge into or of the special token ${JSON.stringify(t.vocab[t.merges[i]!])}` };
    }
  }
  return { ...t, vocab, added: t.added.map(alias) };
}

/** Whether `t` is in Unicode normal form C (ASCII always is). */
const isNfc = (t: string): boolean => !/[^\0-\x7f]/.test(t) || t.normalize('NFC') === t;

/** Encodes many texts on native threads; `ids[offsets[t] .. offsets[t + 1])` are text t's ids. */
export interface NativeBpe {
  encode(texts: string[]): Promise<{ ids: Int32Array; offsets: Int32Array }>;
}

/** A native encoder from the tables (see {@link nativeBpeTables}); `threads` defaults to the machine's cores. */
export function nativeBpe(tables: NativeBpeTables, threads = availableParallelism()): NativeBpe {
  const classes = tables.flags.byteLevel !== 0 ? characterClasses() : undefined;
  const handle: BpeHandle = native.bpeCreate(tables.vocab, tables.merges, tables.added, tables.addedIds, tables.unk, tables.flags, classes);
  return { encode: (texts) => native.bpeEncode(handle, texts, threads) };
}

/**
 * The native encoder of `tok` as a function giving one id list per text (the ids of `tok.encode(text,
 * { addSpecialTokens: false })` when the encoder covers the file), or why there is none.
 */
export function nativeEncoder(tok: Tokenizer): { encode(texts: string[]): Promise<ArrayLike<number>[]> } | { reason: string } {
  const spec = tok.nativeEncodingSpec();
  const tables = nativeBpeTables(spec.json);
  if ('reason' in tables) return tables;
  const main = nativeBpe(tables);
  let plain: NativeBpe | { reason: string } | null = null;
  const split = ({ ids, offsets }: { ids: Int32Array; offsets: Int32Array }): Int32Array[] =>
    Array.from({ length: offsets.length - 1 }, (_, t) => ids.subarray(offsets[t]!, offsets[t + 1]!));
  const encode = async (texts: string[]): Promise<ArrayLike<number>[]> => {
    // A lone UTF-16 surrogate has no UTF-8 form (it would reach the encoder as U+FFFD): such rare texts are
    // encoded by the JavaScript tokenizer, as are texts not in normal form C where the file normalizes to it (its
    // normalizer runs on each piece between added tokens) and texts with escaped content when the aliased tables
    // are not covered.
    const odd = texts.map((t) => LONE_SURROGATE.test(t) || (tables.nfc && !isNfc(t)));
    const marked = texts.map((t, i) => (odd[i] ? null : spec.mark(t)));
    if (!odd.includes(true) && marked.every((m) => m === null)) return split(await main.encode(texts));
    const out: ArrayLike<number>[] = new Array(texts.length);
    const mainAt: number[] = [];
    const plainAt: number[] = [];
    texts.forEach((t, i) => {
      if (odd[i]) out[i] = tok.encode(t, { addSpecialTokens: false });
      else (marked[i] === null ? mainAt : plainAt).push(i);
    });
    const pending = main.encode(mainAt.map((i) => texts[i]!));
    if (plainAt.length > 0) {
      // Texts with escaped content go through the tables of the file whose special tokens have private aliases.
      if (plain === null) {
        const t = aliasedTables(tables, spec.alias);
        plain = 'reason' in t ? t : nativeBpe(t);
      }
      if ('reason' in plain) for (const i of plainAt) out[i] = tok.encode(texts[i]!, { addSpecialTokens: false });
      else split(await plain.encode(plainAt.map((i) => marked[i]!))).forEach((ids, j) => { out[plainAt[j]!] = ids; });
    }
    split(await pending).forEach((ids, j) => { out[mainAt[j]!] = ids; });
    return out;
  };
  return { encode };
}
