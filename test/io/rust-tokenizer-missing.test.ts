// Where the optional `tokenizers` package cannot be loaded (not installed, no binary for the platform), data is
// encoded by bfpo's native encoder where it covers the tokenizer, else by the JavaScript tokenizer with the reasons
// in the log line, and `tokenizer_backend: rust` is an error.
// Own file: the test runner starts each file in its own process, so hiding the package here hides it from no other test.
import { test } from 'node:test';
import assert from 'node:assert/strict';

/** Encoder results as plain arrays (the native encoder gives Int32Array views). */
const asArrays = (ids: ArrayLike<number>[]): number[][] => ids.map((x) => Array.from(x));
import Module from 'node:module';

const resolve = (Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string })._resolveFilename;
(Module as unknown as { _resolveFilename: typeof resolve })._resolveFilename = function hide(request: string, ...rest: unknown[]) {
  if (request === 'tokenizers') throw new Error("Cannot find module 'tokenizers'");
  return resolve.call(this, request, ...rest);
};

test('without the Rust package: auto encodes natively or with JavaScript and says why; rust is refused', async () => {
  const { batchEncoder, rustBinding, Tokenizer } = await import('bfpo/io');
  const { zephyrTokenizer } = await import('../data/zephyr-tokenizer.js');
  const { readFileSync } = await import('node:fs');
  delete process.env.BFPO_TOKENIZER_BACKEND;
  const missing = 'the optional package "tokenizers" cannot be loaded (Cannot find module \'tokenizers\')';
  assert.deepEqual(rustBinding(), { reason: missing });
  const tok = zephyrTokenizer() as never;
  const enc = await batchEncoder(tok);
  assert.equal(enc.backend, 'native');
  assert.deepEqual(asArrays(await enc.encodeBatch(['Hello world'])), [(tok as { encode(t: string, o: object): number[] }).encode('Hello world', { addSpecialTokens: false })]);
  await assert.rejects(batchEncoder(tok, { backend: 'rust' }),
    /tokenizer_backend: rust needs the Rust tokenizers library, but the optional package "tokenizers" cannot be loaded .*; use tokenizer_backend: auto or js/);
  // A Unigram tokenizer, which the native encoder does not cover: JavaScript, with both reasons.
  const dir = new URL('../fixtures/io/unigram/', import.meta.url).pathname;
  const unigram = new Tokenizer(JSON.parse(readFileSync(`${dir}tokenizer.json`, 'utf8')), {});
  const js = await batchEncoder(unigram);
  assert.equal(js.backend, 'js');
  assert.equal(js.description, 'tokenizing with bfpo\'s JavaScript tokenizer (bfpo\'s native encoder does not cover the tokenizer model "Unigram"; the optional package "tokenizers" cannot be loaded (Cannot find module \'tokenizers\'))');
});
