// loadPretrained / savePretrained: round trips through Hugging Face folders (single file and sharded) and GGUF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  FormatError, type LanguageModel, inferenceMode, loadPretrained, manualSeed, savePretrained, tensor, tidy,
} from 'bfpo';
import { LlamaForCausalLM, parseConfig } from 'bfpo/models';
import { tmpDir } from '../io/tmp-dir.js';

const gguf = new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;
const ids = [[1, 15043, 3186, 29892, 920]];

const logitsOf = (model: LanguageModel, input = ids): number[] =>
  inferenceMode(() => tidy(() => Array.from(model.forward(tensor(input)).logits.toTypedArray() as Float32Array)));

test('a GGUF file loads with its tokenizer, and saving it as a folder loads back to the same logits', () => {
  const { model, tokenizer, config } = loadPretrained(gguf);
  assert.equal(config.numHiddenLayers, 1);
  assert.ok(tokenizer);
  assert.deepEqual(tokenizer.encode('Hello world'), [1, 15043, 3186]);
  const before = logitsOf(model);
  const dir = join(tmpDir('pretrained'), 'tiny');
  savePretrained(model, tokenizer, dir);
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  const again = loadPretrained(dir);
  assert.deepEqual(logitsOf(again.model), before);
  assert.deepEqual(again.tokenizer?.encode('Hello world'), [1, 15043, 3186]);
  // Saving over an existing model replaces it whole; a small shard size writes shards with an index.
  savePretrained(again.model, again.tokenizer, dir, { maxShardSize: 20_000 });
  const files = readdirSync(dir);
  assert.ok(files.includes('model.safetensors.index.json') && !files.includes('model.safetensors'), files.join());
  assert.deepEqual(logitsOf(loadPretrained(dir).model), before);
  assert.deepEqual(readdirSync(join(dir, '..')).filter((f) => f.endsWith('.tmp') || f.endsWith('.old')), []);
});

test('dtype option and a random model saved without a tokenizer', () => {
  manualSeed(3);
  const model = new LlamaForCausalLM(parseConfig({
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 64, tie_word_embeddings: true, max_position_embeddings: 64,
  }));
  const dir = join(tmpDir('pretrained'), 'qwen');
  savePretrained(model, null, dir);
  const loaded = loadPretrained(dir, { dtype: 'bfloat16' });
  assert.equal(loaded.tokenizer, null);
  assert.equal(loaded.model.parameters()[0].dtype, 'bfloat16');
  const small = [[1, 5, 9, 63, 0]];
  const a = logitsOf(model, small);
  const b = logitsOf(loadPretrained(dir).model, small);
  assert.deepEqual(b, a);
});

test('bad paths say what was expected', () => {
  const dir = tmpDir('pretrained');
  assert.throws(() => loadPretrained(join(dir, 'nope')), (e: Error) => e instanceof FormatError && /does not exist \(expected a Hugging Face model folder, a PEFT adapter folder or a \.gguf file\)/.test(e.message));
  const file = join(dir, 'weights.bin');
  writeFileSync(file, 'x');
  assert.throws(() => loadPretrained(file), /is a file but not a \.gguf model/);
  const pickle = join(dir, 'pickle-only');
  mkdirSync(pickle);
  writeFileSync(join(pickle, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'] }));
  writeFileSync(join(pickle, 'pytorch_model.bin'), 'x');
  assert.throws(() => loadPretrained(pickle), /pickle/i);
  assert.throws(() => loadPretrained(gguf, { dtype: 'int64' }), /Expected a floating-point dtype or 'auto' for dtype/);
  assert.ok(existsSync(gguf));
});
