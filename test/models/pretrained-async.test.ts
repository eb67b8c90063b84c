// loadPretrainedAsync and loadSafetensorsAsync: the same tensors as the synchronous readers (single file, shards,
// GGUF fall-back), the same errors, and the event loop keeps running while the bytes are read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, type LanguageModel, loadPretrained, loadPretrainedAsync, savePretrained } from 'bfpo';
import { loadSafetensors, loadSafetensorsAsync, loadShardedSafetensorsAsync } from 'bfpo/io';
import { tmpDir } from '../io/tmp-dir.js';

const gguf = new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;

const weightsOf = (m: LanguageModel): [string, number[]][] =>
  [...m.stateDict()].map(([k, t]) => [k, Array.from(t.toTypedArray() as Float32Array)]);

test('loadPretrainedAsync reads a folder (single file and shards) and a GGUF file into the same weights as loadPretrained', async () => {
  const { model, tokenizer } = await loadPretrainedAsync(gguf);
  assert.deepEqual(weightsOf(model), weightsOf(loadPretrained(gguf).model));
  const dir = join(tmpDir('pretrained-async'), 'tiny');
  savePretrained(model, tokenizer, dir);
  const single = await loadPretrainedAsync(dir, { dtype: 'bfloat16' });
  assert.equal(single.model.stateDict().values().next().value?.dtype, 'bfloat16');
  assert.deepEqual(weightsOf(single.model), weightsOf(loadPretrained(dir, { dtype: 'bfloat16' }).model));
  assert.deepEqual(single.tokenizer?.encode('Hello world'), tokenizer?.encode('Hello world'));
  savePretrained(model, tokenizer, dir, { maxShardSize: 20_000 });
  let ticks = 0;
  const timer = setInterval(() => { ticks += 1; }, 0);
  const sharded = await loadPretrainedAsync(dir).finally(() => clearInterval(timer));
  assert.deepEqual(weightsOf(sharded.model), weightsOf(model));
  assert.ok(ticks >= 1, 'the event loop ran while the shards were read');
});

test('loadSafetensorsAsync equals loadSafetensors and refuses the same damaged files', async () => {
  const { model, tokenizer } = loadPretrained(gguf);
  const dir = join(tmpDir('pretrained-async'), 'st');
  savePretrained(model, tokenizer, dir);
  const file = join(dir, 'model.safetensors');
  const a = await loadSafetensorsAsync(file);
  const b = loadSafetensors(file);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, t] of a) assert.deepEqual(Array.from(t.toTypedArray() as Float32Array), Array.from(b.get(k)!.toTypedArray() as Float32Array), k);
  const cut = join(dir, 'cut.safetensors');
  const bytes = readFileSync(file);
  writeFileSync(cut, bytes.subarray(0, bytes.length - 4));
  await assert.rejects(loadSafetensorsAsync(cut), (e: Error) => e instanceof FormatError && e.message.includes(cut));
  rmSync(cut);
  await assert.rejects(loadShardedSafetensorsAsync(dir), (e: Error) => e instanceof FormatError && /index file not found/.test(e.message));
});
