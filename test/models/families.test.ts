// The model-family registry: a family defined only in the tests (test-family.ts) loads from an HF folder through
// the normal loader, runs forward and generate, saves, reloads, and round-trips through GGUF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError, generate, inferenceMode, loadPretrained, manualSeed, savePretrained, tensor, tidy, type LanguageModel,
} from 'bfpo';
import { readGguf } from 'bfpo/io';
import {
  LlamaForCausalLM, createModel, familyOf, ggufArchs, registeredArchitectures, writeGgufFromHf,
} from 'bfpo/models';
import { TinyScaledForCausalLM } from './test-family.js';
import { tmpDir } from '../io/tmp-dir.js';

const hf = {
  architectures: ['TinyScaledForCausalLM'], model_type: 'tinyscaled', hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 48, max_position_embeddings: 64, rms_norm_eps: 1e-5, logit_scale: 2.5,
};
const ids = [[1, 7, 30, 12, 5]];
const logitsOf = (model: LanguageModel): number[] =>
  inferenceMode(() => tidy(() => Array.from(model.forward(tensor(ids)).logits.toTypedArray() as Float32Array)));

test('the built-in families and the test family are registered; an unknown architecture lists them', () => {
  assert.deepEqual(registeredArchitectures().slice(0, 3), ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM']);
  assert.ok(registeredArchitectures().includes('TinyScaledForCausalLM'));
  assert.deepEqual(ggufArchs().map((a) => a.name).slice(0, 2), ['llama', 'qwen2']);
  assert.equal(familyOf({ model_type: 'mistral' }).architectures[0], 'MistralForCausalLM');
  assert.throws(() => familyOf({ architectures: ['GemmaForCausalLM'] }),
    (e: Error) => e instanceof ConfigError && /Unsupported architecture \["GemmaForCausalLM"\] in config key architectures; registered: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, .*TinyScaledForCausalLM/.test(e.message));
  const dir = join(tmpDir('families'), 'gemma');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...hf, architectures: ['GemmaForCausalLM'], model_type: 'gemma' }));
  writeFileSync(join(dir, 'model.safetensors'), Buffer.alloc(0));
  assert.throws(() => loadPretrained(dir), /Unsupported architecture \["GemmaForCausalLM"\].*registered: LlamaForCausalLM/);
});

test('a registered test family loads from an HF folder, generates, saves, reloads and round-trips through GGUF', () => {
  manualSeed(11);
  const model = createModel(hf);
  assert.ok(model instanceof TinyScaledForCausalLM);
  // Independent check of the family's forward: the Llama model with the same weights, logits times 2.5.
  const plain = new LlamaForCausalLM({ ...hf, architectures: ['LlamaForCausalLM'], model_type: 'llama' }, { init: 'empty' });
  plain.loadStateDict(model.stateDict());
  const expected = logitsOf(plain).map((v) => v * 2.5);
  const got = logitsOf(model);
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-5 * (1 + Math.abs(expected[i])), `logit ${i}: ${v} vs ${expected[i]}`));

  const dir = join(tmpDir('families'), 'scaled');
  savePretrained(model, null, dir);
  const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual([saved.architectures, saved.model_type, saved.logit_scale], [['TinyScaledForCausalLM'], 'tinyscaled', 2.5]);
  const loaded = loadPretrained(dir);
  assert.ok(loaded.model instanceof TinyScaledForCausalLM);
  assert.equal(loaded.config.architecture, 'TinyScaledForCausalLM');
  assert.deepEqual(logitsOf(loaded.model), got);
  const a = generate(loaded.model, [[1, 7, 30]], { maxNewTokens: 4, eosTokenIds: [] }).sequences;
  const b = generate(plain, [[1, 7, 30]], { maxNewTokens: 4, eosTokenIds: [] }).sequences;
  // Greedy decoding is unchanged by a positive logit scale.
  assert.deepEqual(a, b);
  assert.equal(a[0].length, 4);

  const gguf = join(tmpDir('families'), 'scaled.gguf');
  writeGgufFromHf(gguf, { config: saved, weights: loaded.model.stateDict(), fileType: 'F32' });
  const file = readGguf(gguf);
  assert.deepEqual(file.metadata['general.architecture'], { type: 'string', value: 'tinyscaled' });
  assert.deepEqual(file.metadata['tinyscaled.logit_scale'], { type: 'float32', value: 2.5 });
  assert.ok(file.tensors.some((t) => t.name === 'blk.1.attn_q.weight'));
  const back = loadPretrained(gguf);
  assert.ok(back.model instanceof TinyScaledForCausalLM);
  assert.deepEqual(logitsOf(back.model), got);
  for (const m of [model, plain, loaded.model, back.model]) m.dispose();
});
