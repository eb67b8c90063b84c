// PEFT LoRA adapter folders load, generate, convert and merge like model folders (base from adapter_config.json or --base).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPretrained, tensor } from 'bfpo';
import { saveSafetensors } from 'bfpo/io';
import { convertCommand } from '../../src/cli/convert.js';
import { generateCommand } from '../../src/cli/generate.js';
import { mergeCommand } from '../../src/cli/merge.js';
import { checkModelPath } from '../../src/recipe/paths.js';
import { tmpDir } from '../io/tmp-dir.js';

const gguf = new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;
const TARGET = 'model.layers.0.self_attn.q_proj.weight';

/** Deterministic small numbers, so the expected merge can be written out by hand. */
const seq = (n: number, k: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + k) * 0.5);

/** A base folder and an adapter of rank 2 on layer 0's q_proj, PEFT layout, with alpha 4 (scaling 2). */
function makeAdapter(): { base: string; adapter: string; A: number[][]; B: number[][]; out: number; inp: number } {
  const dir = tmpDir('bfpo-peft-');
  const base = join(dir, 'base');
  convertCommand([gguf, base, '--max-shard-size', '5GB'], () => {});
  const w = loadPretrained(base).model.stateDict().get(TARGET)!;
  const [out, inp] = w.shape;
  const r = 2;
  const A = Array.from({ length: r }, (_, i) => seq(inp, i));
  const B = Array.from({ length: out }, (_, i) => seq(r, 10 + i));
  const adapter = join(dir, 'adapter');
  mkdirSync(adapter);
  saveSafetensors(join(adapter, 'adapter_model.safetensors'), {
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': tensor(A),
    'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight': tensor(B),
  });
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', base_model_name_or_path: base, r, lora_alpha: 4, target_modules: ['q_proj'] }));
  return { base, adapter, A, B, out, inp };
}

test('an adapter folder loads as its base with W + alpha/r * B A, checked entry by entry', () => {
  const { base, adapter, A, B, out, inp } = makeAdapter();
  const W = loadPretrained(base).model.stateDict().get(TARGET)!.toArray() as number[][];
  const merged = loadPretrained(adapter).model.stateDict();
  const M = merged.get(TARGET)!.toArray() as number[][];
  for (let i = 0; i < out; i++) {
    for (let j = 0; j < inp; j++) {
      const update = 2 * (B[i][0] * A[0][j] + B[i][1] * A[1][j]);
      assert.ok(Math.abs(M[i][j] - (W[i][j] + update)) < 1e-5, `[${i}, ${j}]`);
    }
  }
  // Other weights are the base's own.
  const other = 'model.layers.0.self_attn.k_proj.weight';
  assert.deepEqual(merged.get(other)!.toArray(), loadPretrained(base).model.stateDict().get(other)!.toArray());
  assert.equal(checkModelPath(adapter), adapter);
});

test('generate, convert and merge take an adapter folder; --base overrides the recorded base', async () => {
  const { base, adapter } = makeAdapter();
  const dir = tmpDir('bfpo-peft-');
  const logs: string[] = [];
  mergeCommand([adapter, join(dir, 'merged'), '--gguf', join(dir, 'merged.gguf')], (s) => logs.push(s));
  assert.ok(existsSync(join(dir, 'merged', 'config.json')) && existsSync(join(dir, 'merged.gguf')));
  assert.match(logs[0], /wrote .*merged, .*merged\.gguf, .*merged\.Modelfile/);
  const ask = (model: string, extra: string[] = []) => generateCommand(['--model', model, '--prompt', 'Hello', '--max-new-tokens', '6', ...extra], () => {});
  const fromAdapter = await ask(adapter);
  assert.equal(fromAdapter, await ask(join(dir, 'merged')));
  assert.equal(fromAdapter, await ask(join(dir, 'merged.gguf')));
  convertCommand([adapter, join(dir, 'conv.gguf'), '--type', 'f32'], () => {});
  assert.equal(await ask(join(dir, 'conv.gguf')), fromAdapter);
  // The recorded base moved away: --base names it.
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', base_model_name_or_path: join(dir, 'gone'), r: 2, lora_alpha: 4 }));
  await assert.rejects(ask(adapter), /gone.*was not found|gone.*does not exist/);
  assert.equal(await ask(adapter, ['--base', base]), fromAdapter);
});

test('adapter errors name the file and what is wrong', () => {
  const { adapter } = makeAdapter();
  const dir = tmpDir('bfpo-peft-');
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2 }));
  assert.throws(() => loadPretrained(adapter), /adapter_config\.json: "base_model_name_or_path": names no base model/);
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'IA3', r: 2 }));
  assert.throws(() => loadPretrained(adapter), /"peft_type": is a IA3 adapter; only LORA/);
  assert.throws(() => mergeCommand([dir, join(dir, 'x')]), /Expected a PEFT adapter folder .* for ADAPTER_DIR/);
  assert.throws(() => mergeCommand([adapter]), /Expected ADAPTER_DIR and OUT_DIR/);
});
