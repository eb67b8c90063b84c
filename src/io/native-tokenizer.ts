// bfpo's native BPE encoder (native/bpe.cc) for data preparation: which tokenizer.json files it covers, and the
// tables it is built from. It covers SentencePiece-style BPE (Llama 2, Mistral, Zephyr: spaces written as `▁`, byte
// fallback) and BPE without normalizer or pre-tokenizer; everything else (byte-level BPE, Unigram, WordPiece,
// other normalizers) is left to Hugging Face's Rust library or bfpo's JavaScript tokenizer. Its ids are compared
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
  flags: { byteFallback: boolean; fuseUnk: boolean; ignoreMerges: boolean; metaspace: boolean };
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
  let metaspace: boolean;
  if (sameConfig(json.normalizer, LEGACY_METASPACE_NORMALIZER) && sameConfig(json.pre_tokenizer, METASPACE_SPLIT)) metaspace = true;
  else if ((json.normalizer ?? null) === null && (json.pre_tokenizer ?? null) === null) metaspace = false;
  else return not(`the normalizer ${JSON.stringify(json.normalizer)} with the pre-tokenizer ${JSON.stringify(json.pre_tokenizer)}`);
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
    merges.set([a, b, c], r * 3);
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
    flags: { byteFallback: model.byte_fallback === true, fuseUnk: model.fuse_unk === true, ignoreMerges: model.ignore_merges === true, metaspace },
  };
}

/**
 * A UTF-16 surrogate without its other half: such text has no UTF-8 form, so native code (this encoder, the Rust
 * library) would see U+FFFD in its place; these texts go to the JavaScript tokenizer.
 */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Encodes many texts on native threads; `ids[offsets[t] .. offsets[t + 1])` are text t's ids. */
export interface NativeBpe {
  encode(texts: string[]): Promise<{ ids: Int32Array; offsets: Int32Array }>;
}

/** A native encoder from the tables (see {@link nativeBpeTables}); `threads` defaults to the machine's cores. */
export function nativeBpe(tables: NativeBpeTables, threads = availableParallelism()): NativeBpe {
  const handle: BpeHandle = native.bpeCreate(tables.vocab, tables.merges, tables.added, tables.addedIds, tables.unk, tables.flags);
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
    // encoded by the JavaScript tokenizer, as are texts with escaped content when the aliased tables are not covered.
    const odd = texts.map((t) => LONE_SURROGATE.test(t));
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
        const t = nativeBpeTables(spec.plainJson());
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
