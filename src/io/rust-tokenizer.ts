// Batch encoding for data preparation: bfpo's native encoder (native/bpe.cc) or Hugging Face's Rust tokenizers
// library (the optional npm package `tokenizers`) where it gives exactly bfpo's ids, else bfpo's JavaScript
// tokenizer. Ids are compared on a probe corpus when the encoder is built and on the first texts of a run, and any
// difference switches to the JavaScript tokenizer for good.
import { createRequire } from 'node:module';
import { BfpoError, expected } from '../errors.js';
import { LONE_SURROGATE, nativeEncoder } from './native-tokenizer.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * Which implementation encodes: `auto` (bfpo's native encoder, else the Rust library, where it covers the tokenizer
 * and gives identical ids; else JavaScript), `native` or `rust` (required), `js`.
 */
export type TokenizerBackend = 'auto' | 'native' | 'rust' | 'js';

/** The values {@link TokenizerBackend} accepts, for option checks. */
export const TOKENIZER_BACKENDS: readonly TokenizerBackend[] = ['auto', 'native', 'rust', 'js'];

/** The environment variable that overrides the backend a recipe or caller chose (e.g. `BFPO_TOKENIZER_BACKEND=js`). */
export const BACKEND_ENV = 'BFPO_TOKENIZER_BACKEND';

/** Many texts to ids, as `Tokenizer.encode(text, { addSpecialTokens: false })` gives them, in order. */
export interface BatchEncoder {
  /** One id list per text: a plain array, or an Int32Array view where the native encoder made it. */
  encodeBatch(texts: string[]): Promise<(number[] | Int32Array)[]>;
  /** The implementation that encodes now (one that found a difference reports `js`). */
  readonly backend: 'native' | 'rust' | 'js';
  /** One line for the log: which implementation encodes, and why. */
  readonly description: string;
}

interface RustEncoding { getIds(): number[] }
interface RustTokenizer { encodeBatch(texts: string[], opts?: { addSpecialTokens?: boolean }): Promise<RustEncoding[]> }
interface RustBinding { Tokenizer: { fromString(json: string): RustTokenizer } }

let binding: { module: RustBinding; version: string } | { reason: string } | undefined;

/** The `tokenizers` package with its version, or why it cannot be used (not installed, no binary for this platform). */
export function rustBinding(): { module: RustBinding; version: string } | { reason: string } {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  try {
    const module = require('tokenizers') as RustBinding;
    let version = '?';
    try { version = (require('tokenizers/package.json') as { version: string }).version; } catch { /* version unknown */ }
    binding = { module, version };
  } catch (e) {
    binding = { reason: `the optional package "tokenizers" cannot be loaded (${(e as Error).message.split('\n')[0]})` };
  }
  return binding;
}

/**
 * Texts whose ids must agree before the Rust library is used at all: whitespace, Unicode, byte fallback, code,
 * added and special tokens written raw, and special-token strings inside escaped message content.
 */
function probeTexts(tok: Tokenizer): string[] {
  const specials = tok.specialTokenStrings().slice(0, 16);
  let conversation = `<s>${specials.join('')}`;
  try {
    conversation = tok.applyChatTemplate([
      { role: 'user', content: `Hi ${specials.join('')} there` },
      { role: 'assistant', content: `ok ${specials.map((s) => `x${s}y`).join(' ')} done` },
    ], { addGenerationPrompt: false });
  } catch { /* a template that refuses this conversation: the run's own texts are compared anyway */ }
  return [
    'Hello world', ' leading space', '  two  spaces   trailing   ', 'tabs\tand\nnewlines\n\n\n', '\r\n windows\r\n',
    'Ünïcödé façade naïve café', 'ﬁ ligature ① ＡＢＣ', '日本語のテキストと中文混合', '한국어 문장입니다', 'Привет, мир! Ελληνικά',
    'emoji 😀👍🏽👨‍👩‍👧 🇫🇷', '\u0000control\u0007chars \u{10FFFF}', 'zero\u200bwidth a\u00a0nbsp', 'literal ▁ marks▁inside ▁▁',
    'def f(x):\n    return x ** 2  # square\n', "don't I'LL we've 1,000,000 3.14159 0x1F", 'x'.repeat(300),
    specials.join(''), specials.join(' a '), `text${specials.join('text')}text`, conversation,
    ('A paragraph, with  double spaces,\n\tindented    code and 😀; the quick brown fox jumps. ').repeat(8),
  ];
}

const sameIds = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/** The first text on which two lists of ids differ, shortened for a log line. */
const describeDifference = (text: string): string => JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);

/** Options of {@link batchEncoder}. */
export interface BatchEncoderOptions {
  /** Default `auto`; the environment variable {@link BACKEND_ENV} overrides it. */
  backend?: TokenizerBackend;
  /** How many of the run's first texts are also encoded by the JavaScript tokenizer and compared (default 64). */
  checkTexts?: number;
  /** Receives a line when the Rust library gives different ids and encoding switches to JavaScript. */
  log?: (line: string) => void;
}

/** The JavaScript tokenizer as a batch encoder. */
function jsEncoder(tok: Tokenizer, why: string): BatchEncoder {
  return {
    backend: 'js',
    description: `tokenizing with bfpo's JavaScript tokenizer (${why})`,
    encodeBatch: async (texts) => texts.map((t) => tok.encode(t, { addSpecialTokens: false })),
  };
}

/** The Rust encoder of `tok`, or why there is none. */
function rustEncoder(tok: Tokenizer): { encode(texts: string[]): Promise<number[][]>; version: string } | { reason: string } {
  const b = rustBinding();
  if ('reason' in b) return b;
  const spec = tok.nativeEncodingSpec();
  let main: RustTokenizer;
  try {
    main = b.module.Tokenizer.fromString(JSON.stringify(spec.json));
  } catch (e) {
    return { reason: `the Rust library cannot load ${tok.source}: ${(e as Error).message}` };
  }
  let plain: RustTokenizer | null = null;
  const encode = async (texts: string[]): Promise<number[][]> => {
    const out: number[][] = new Array(texts.length);
    const marked = texts.map((t, i) => {
      if (!LONE_SURROGATE.test(t)) return spec.mark(t);
      out[i] = tok.encode(t, { addSpecialTokens: false });
      return undefined;
    });
    const plainAt: number[] = [];
    const mainTexts: string[] = [];
    const mainAt: number[] = [];
    marked.forEach((m, i) => { if (m === null) { mainTexts.push(texts[i]!); mainAt.push(i); } else if (m !== undefined) plainAt.push(i); });
    const jobs: Promise<void>[] = [];
    if (mainTexts.length > 0) {
      jobs.push(main.encodeBatch(mainTexts, { addSpecialTokens: false }).then((enc) => { enc.forEach((e, j) => { out[mainAt[j]!] = e.getIds(); }); }));
    }
    if (plainAt.length > 0) {
      plain ??= b.module.Tokenizer.fromString(JSON.stringify(spec.plainJson()));
      jobs.push(plain.encodeBatch(plainAt.map((i) => marked[i]!), { addSpecialTokens: false }).then((enc) => { enc.forEach((e, j) => { out[plainAt[j]!] = e.getIds(); }); }));
    }
    await Promise.all(jobs);
    return out;
  };
  return { encode, version: b.version };
}

/** An implementation that may encode instead of the JavaScript tokenizer, with the words its messages use. */
interface Candidate {
  name: 'native' | 'rust';
  encode(texts: string[]): Promise<ArrayLike<number>[]>;
  /** "the Rust library" / "bfpo's native encoder": what gave other ids. */
  who: string;
  /** What `tokenizer_backend: <name>` needs, for the error when it cannot be had. */
  needs: string;
  /** The log line while it encodes. */
  line: (checkTexts: number) => string;
}

function candidate(tok: Tokenizer, name: 'native' | 'rust'): Candidate | { reason: string; needs: string } {
  if (name === 'native') {
    const needs = "bfpo's native encoder";
    const enc = nativeEncoder(tok);
    if ('reason' in enc) return { reason: enc.reason, needs };
    return {
      name, encode: enc.encode, who: "bfpo's native encoder", needs,
      line: (n) => `tokenizing with bfpo's native encoder (identical ids to bfpo's JavaScript tokenizer on a probe corpus; the first ${n} texts are compared too)`,
    };
  }
  const needs = 'the Rust tokenizers library';
  const rust = rustEncoder(tok);
  if ('reason' in rust) return { reason: rust.reason, needs };
  return {
    name, encode: rust.encode, who: 'the Rust library', needs,
    line: (n) => `tokenizing with Hugging Face's Rust tokenizers ${rust.version} (identical ids to bfpo's JavaScript tokenizer on a probe corpus; the first ${n} texts are compared too)`,
  };
}

/** `ids` as they are if an array or the native encoder's Int32Array view (no copy), anything else copied into an array. */
const tokenIds = (ids: ArrayLike<number>): number[] | Int32Array => (Array.isArray(ids) || ids instanceof Int32Array ? ids : Array.from(ids));

/**
 * A batch encoder for `tok`: with backend `auto`, bfpo's native encoder, else the Rust library, the first of them
 * that covers the tokenizer and gives the JavaScript tokenizer's ids on a probe corpus and on the first `checkTexts`
 * texts it encodes; else, or with backend `js`, the JavaScript tokenizer. With backend `native` or `rust`, that
 * implementation is required: one that is missing or differs is an error instead.
 *
 * @example
 * const enc = await batchEncoder(loadTokenizer('models/zephyr'));
 * console.log(enc.description);
 * const ids = await enc.encodeBatch(['Hello', 'world']);
 */
export async function batchEncoder(tok: Tokenizer, opts: BatchEncoderOptions = {}): Promise<BatchEncoder> {
  const fromEnv = process.env[BACKEND_ENV];
  const backend = (fromEnv !== undefined && fromEnv !== '' ? fromEnv : opts.backend ?? 'auto') as TokenizerBackend;
  if (!TOKENIZER_BACKENDS.includes(backend)) {
    throw expected(`one of ${TOKENIZER_BACKENDS.join(', ')}`, fromEnv ? `the environment variable ${BACKEND_ENV}` : 'tokenizer_backend', backend);
  }
  const checkTexts = opts.checkTexts ?? 64;
  if (!Number.isInteger(checkTexts) || checkTexts < 0) throw expected('a non-negative integer', 'checkTexts', checkTexts);
  const chosen = fromEnv ? `${BACKEND_ENV}=${backend}` : `tokenizer_backend: ${backend}`;
  if (backend === 'js') return jsEncoder(tok, chosen);
  const reasons: string[] = [];
  let probe: { texts: string[]; ids: number[][] } | null = null;
  let escapedProbe: string[] = [];
  for (const name of backend === 'auto' ? (['native', 'rust'] as const) : [backend]) {
    const c = candidate(tok, name);
    const refuse = (reason: string): void => {
      if (backend !== 'auto') throw new BfpoError(`${chosen} needs ${c.needs}, but ${reason}; use tokenizer_backend: auto or js`);
      reasons.push(reason);
    };
    if ('reason' in c) { refuse(c.reason); continue; }
    if (!probe) {
      // Probe texts with escaped content are compared when the run first encodes such content (building the
      // JavaScript tokenizer's copy for escaped text costs more than the rest of the probe; most data has none).
      const all = probeTexts(tok);
      const spec = tok.nativeEncodingSpec();
      escapedProbe = all.filter((t) => spec.mark(t) !== null);
      const texts = all.filter((t) => spec.mark(t) === null);
      probe = { texts, ids: texts.map((t) => tok.encode(t, { addSpecialTokens: false })) };
    }
    let got: ArrayLike<number>[];
    try {
      got = await c.encode(probe.texts);
    } catch (e) {
      refuse(`${c.who} fails on ${tok.source}: ${(e as Error).message}`);
      continue;
    }
    const bad = probe.texts.findIndex((_, i) => !sameIds(got[i]!, probe!.ids[i]!));
    if (bad >= 0) { refuse(`${c.who} gives other ids than bfpo's on the probe text ${describeDifference(probe.texts[bad]!)}`); continue; }
    return checkedEncoder(tok, c, checkTexts, escapedProbe, backend !== 'auto' ? chosen : null, opts.log);
  }
  return jsEncoder(tok, reasons.join('; '));
}

/**
 * `c` as the batch encoder, its first `checkTexts` texts compared, and the probe texts with escaped content
 * (`escapedProbe`) compared before the first batch that has escaped content; `strict` (the option that required
 * it) makes a difference an error.
 */
function checkedEncoder(tok: Tokenizer, c: Candidate, checkTexts: number, escapedProbe: string[], strict: string | null, log?: (line: string) => void): BatchEncoder {
  let checked = 0;
  let current: 'native' | 'rust' | 'js' = c.name;
  const spec = tok.nativeEncodingSpec();
  let escapedPending = escapedProbe.length > 0;
  const jsIds = (texts: string[]): number[][] => texts.map((t) => tok.encode(t, { addSpecialTokens: false }));
  /** The index of the first text whose ids differ, or -1. */
  const firstDifference = (got: ArrayLike<number>[], want: number[][]): number => want.findIndex((w, i) => !sameIds(got[i]!, w));
  const differs = (text: string): number[][] | null => {
    const why = `${c.who} gave other ids than bfpo's JavaScript tokenizer on the text ${describeDifference(text)}`;
    if (strict) throw new BfpoError(`${strict}: ${why}; use tokenizer_backend: auto or js`);
    current = 'js';
    log?.(`${why}; tokenizing with the JavaScript tokenizer from here on`);
    return null;
  };
  return {
    get backend() { return current; },
    get description() { return current !== 'js' ? c.line(checkTexts) : `tokenizing with bfpo's JavaScript tokenizer (${c.who} gave other ids)`; },
    async encodeBatch(texts) {
      if (current !== 'js' && escapedPending && texts.some((t) => spec.mark(t) !== null)) {
        escapedPending = false;
        const bad = firstDifference(await c.encode(escapedProbe), jsIds(escapedProbe));
        if (bad >= 0) differs(escapedProbe[bad]!);
      }
      if (current === 'js') return jsIds(texts);
      const pending = c.encode(texts);
      // The texts still to compare are encoded here while the other implementation encodes on its own threads.
      const n = Math.max(0, Math.min(texts.length, checkTexts - checked));
      const js = jsIds(texts.slice(0, n));
      const ids = await pending;
      const bad = firstDifference(ids, js);
      if (bad >= 0) {
        differs(texts[bad]!);
        return jsIds(texts);
      }
      checked += n;
      return ids.map(tokenIds);
    },
  };
}
