// Batch encoding with Hugging Face's Rust tokenizers library (the optional npm package `tokenizers`) where it gives
// exactly bfpo's ids, else with bfpo's JavaScript tokenizer: ids are compared on a probe corpus when the encoder is
// built and on the first texts of a run, and any difference switches to the JavaScript tokenizer for good.
import { createRequire } from 'node:module';
import { BfpoError, expected } from '../errors.js';
import type { Tokenizer } from './tokenizer.js';

/** Which implementation encodes: `auto` (Rust where available and identical), `rust` (required), `js`. */
export type TokenizerBackend = 'auto' | 'rust' | 'js';

/** The values {@link TokenizerBackend} accepts, for option checks. */
export const TOKENIZER_BACKENDS: readonly TokenizerBackend[] = ['auto', 'rust', 'js'];

/** The environment variable that overrides the backend a recipe or caller chose (e.g. `BFPO_TOKENIZER_BACKEND=js`). */
export const BACKEND_ENV = 'BFPO_TOKENIZER_BACKEND';

/** Many texts to ids, as `Tokenizer.encode(text, { addSpecialTokens: false })` gives them, in order. */
export interface BatchEncoder {
  encodeBatch(texts: string[]): Promise<number[][]>;
  /** `rust` or `js`: the implementation that encodes now (a Rust encoder that found a difference reports `js`). */
  readonly backend: 'rust' | 'js';
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
  /** How many of the run's first texts are also encoded by the JavaScript tokenizer and compared (default 256). */
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
    const marked = texts.map((t) => spec.mark(t));
    const plainAt: number[] = [];
    const mainTexts: string[] = [];
    const mainAt: number[] = [];
    marked.forEach((m, i) => { if (m === null) { mainTexts.push(texts[i]!); mainAt.push(i); } else plainAt.push(i); });
    const out: number[][] = new Array(texts.length);
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

/**
 * A batch encoder for `tok`: the Rust library where it loads and gives the JavaScript tokenizer's ids on a probe
 * corpus and on the first `checkTexts` texts it encodes; else, or with backend `js`, the JavaScript tokenizer.
 * With backend `rust`, a Rust library that is missing or differs is an error instead.
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
  const checkTexts = opts.checkTexts ?? 256;
  if (!Number.isInteger(checkTexts) || checkTexts < 0) throw expected('a non-negative integer', 'checkTexts', checkTexts);
  const chosen = fromEnv ? `${BACKEND_ENV}=${backend}` : `tokenizer_backend: ${backend}`;
  if (backend === 'js') return jsEncoder(tok, chosen);
  const refuse = (reason: string): BatchEncoder => {
    if (backend === 'rust') throw new BfpoError(`${chosen} needs the Rust tokenizers library, but ${reason}; use tokenizer_backend: auto or js`);
    return jsEncoder(tok, reason);
  };
  const rust = rustEncoder(tok);
  if ('reason' in rust) return refuse(rust.reason);
  const probe = probeTexts(tok);
  let probeIds: number[][];
  try {
    probeIds = await rust.encode(probe);
  } catch (e) {
    return refuse(`the Rust library fails on ${tok.source}: ${(e as Error).message}`);
  }
  const bad = probe.findIndex((t, i) => !sameIds(probeIds[i]!, tok.encode(t, { addSpecialTokens: false })));
  if (bad >= 0) return refuse(`the Rust library gives other ids than bfpo's on the probe text ${describeDifference(probe[bad]!)}`);
  let checked = 0;
  let current: 'rust' | 'js' = 'rust';
  const rustLine = `tokenizing with Hugging Face's Rust tokenizers ${rust.version} (identical ids to bfpo's JavaScript tokenizer on a probe corpus; the first ${checkTexts} texts are compared too)`;
  const encoder: BatchEncoder = {
    get backend() { return current; },
    get description() { return current === 'rust' ? rustLine : `tokenizing with bfpo's JavaScript tokenizer (the Rust library gave other ids)`; },
    async encodeBatch(texts) {
      if (current === 'js') return texts.map((t) => tok.encode(t, { addSpecialTokens: false }));
      const pending = rust.encode(texts);
      // The texts still to compare are encoded here while the Rust library encodes on its own threads.
      const n = Math.max(0, Math.min(texts.length, checkTexts - checked));
      const js = texts.slice(0, n).map((t) => tok.encode(t, { addSpecialTokens: false }));
      const ids = await pending;
      for (let i = 0; i < n; i++) {
        if (sameIds(ids[i]!, js[i]!)) continue;
        const why = `the Rust library gave other ids than bfpo's JavaScript tokenizer on the text ${describeDifference(texts[i]!)}`;
        if (backend === 'rust') throw new BfpoError(`${chosen}: ${why}; use tokenizer_backend: auto or js`);
        current = 'js';
        opts.log?.(`${why}; tokenizing with the JavaScript tokenizer from here on`);
        return texts.map((t) => tok.encode(t, { addSpecialTokens: false }));
      }
      checked += n;
      return ids;
    },
  };
  return encoder;
}
