// loadPretrainedAsync, loadSafetensorsAsync and savePretrainedAsync: the same tensors and bytes as the synchronous
// readers and writer (single file, shards, GGUF, PEFT adapters), the same errors, and the event loop keeps running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, type LanguageModel, loadPretrained, loadPretrainedAsync, savePretrained, savePretrainedAsync, tensor } from 'bfpo';
import { loadSafetensors, loadSafetensorsAsync, loadShardedSafetensorsAsync, saveSafetensors } from 'bfpo/io';
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

/** Runs `work` while counting event-loop turns (a setImmediate chain) and timer ticks; returns both with the result. */
async function whileCounting<T>(work: () => Promise<T> | T): Promise<{ value: T; turns: number; ticks: number }> {
  let turns = 0;
  let ticks = 0;
  let on = true;
  const turn = (): void => { if (on) { turns += 1; setImmediate(turn); } };
  setImmediate(turn);
  const timer = setInterval(() => { ticks += 1; }, 0);
  try {
    const value = await work();
    return { value, turns, ticks };
  } finally {
    on = false;
    clearInterval(timer);
  }
}

/** Every file of a folder, by name, with its bytes. */
const folderBytes = (dir: string): Map<string, Buffer> => new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));

test('savePretrainedAsync writes the bytes savePretrained writes while timers keep firing, and replaces a folder whole', async () => {
  const { model, tokenizer } = loadPretrained(gguf);
  const root = tmpDir('pretrained-async-save');
  const syncDir = join(root, 'sync');
  const asyncDir = join(root, 'async');
  const blocked = await whileCounting(() => savePretrained(model, tokenizer, syncDir, { maxShardSize: 200_000 }));
  assert.equal(blocked.ticks + blocked.turns, 0, 'the synchronous save holds the event loop');
  const { ticks, turns } = await whileCounting(() => savePretrainedAsync(model, tokenizer, asyncDir, { maxShardSize: 200_000 }));
  const want = folderBytes(syncDir);
  assert.ok([...want.keys()].filter((f) => f.endsWith('.safetensors')).length >= 3, 'several shards');
  assert.ok(want.has('tokenizer.json') && want.has('generation_config.json') && want.has('model.safetensors.index.json'));
  assert.deepEqual(folderBytes(asyncDir), want, 'the same files with the same bytes');
  assert.ok(ticks >= 1, `a 0 ms timer fired ${ticks} times during the save`);
  assert.ok(turns >= want.size, `the event loop turned ${turns} times for ${want.size} files`);
  assert.deepEqual(weightsOf(loadPretrained(asyncDir).model), weightsOf(model));
  // Saving again, unsharded, into the same folder replaces it whole: no stale shard or index is left.
  await savePretrainedAsync(model, tokenizer, asyncDir);
  assert.deepEqual([...folderBytes(asyncDir).keys()].filter((f) => f.includes('safetensors')), ['model.safetensors']);
  assert.deepEqual(readdirSync(root).sort(), ['async', 'sync'], 'no temporary folder is left beside it');
});

test('a failed savePretrainedAsync leaves the existing folder as it was and no temporary files', async () => {
  const { model, tokenizer } = loadPretrained(gguf);
  const root = tmpDir('pretrained-async-fail');
  const dir = join(root, 'model');
  savePretrained(model, tokenizer, dir);
  const before = folderBytes(dir);
  // One tensor whose bytes cannot be taken: the failure comes while the weights file is being written.
  const bad = new Map(model.stateDict());
  const real = bad.get('model.norm.weight')!;
  bad.set('model.norm.weight', new Proxy(real, {
    get: (t, key) => (key === 'toBuffer' ? () => { throw new Error('bytes unavailable'); } : ((v) => (typeof v === 'function' ? v.bind(t) : v))(Reflect.get(t, key, t))),
  }));
  await assert.rejects(savePretrainedAsync(model, tokenizer, dir, { weights: bad }), /bytes unavailable/);
  assert.deepEqual(folderBytes(dir), before);
  assert.deepEqual(readdirSync(root), ['model']);
});

test('loadPretrainedAsync reads GGUF tensors and a PEFT adapter with its base off the event loop, as loadPretrained does', async () => {
  const fromGguf = await whileCounting(() => loadPretrainedAsync(gguf));
  const sync = loadPretrained(gguf);
  assert.deepEqual(weightsOf(fromGguf.value.model), weightsOf(sync.model));
  const tensors = sync.model.stateDict().size;
  assert.ok(fromGguf.turns >= tensors, `the event loop turned ${fromGguf.turns} times while ${tensors} GGUF tensors were read`);
  assert.ok(fromGguf.ticks >= 1);
  // A LoRA adapter on layer 0's q_proj whose base is the GGUF file: adapter and base bytes are both read asynchronously.
  const adapter = join(tmpDir('pretrained-async-peft'), 'adapter');
  mkdirSync(adapter);
  const [out, inp] = sync.model.stateDict().get('model.layers.0.self_attn.q_proj.weight')!.shape;
  const A = Array.from({ length: 2 }, (_, i) => Array.from({ length: inp }, (__, j) => Math.sin(i + j * 0.3) * 0.1));
  const B = Array.from({ length: out }, (_, i) => [Math.cos(i) * 0.1, Math.sin(i * 0.5) * 0.1]);
  saveSafetensors(join(adapter, 'adapter_model.safetensors'), {
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': tensor(A),
    'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight': tensor(B),
  });
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', base_model_name_or_path: gguf, r: 2, lora_alpha: 2 }));
  const merged = await whileCounting(() => loadPretrainedAsync(adapter));
  assert.deepEqual(weightsOf(merged.value.model), weightsOf(loadPretrained(adapter).model));
  assert.ok(merged.turns >= tensors + 2, `the event loop turned ${merged.turns} times while the base and the adapter were read`);
  await assert.rejects(loadPretrainedAsync(join(adapter, 'missing')), (e: Error) => e instanceof FormatError && e.message.includes('missing'));
});
