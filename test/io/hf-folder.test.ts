import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensor } from 'bfpo';
import { findHfFolder, loadHfWeights, saveSafetensors, saveShardedSafetensors } from 'bfpo/io';
import { tmpDir } from './tmp-dir.js';

const tmp = (): string => tmpDir('bfpo-hf-');

test('finds a single-file and a sharded folder and loads its weights', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'] }));
  saveSafetensors(join(dir, 'model.safetensors'), { w: tensor([1, 2]) });
  const f = findHfFolder(dir);
  assert.equal(f.sharded, false);
  assert.deepEqual(f.config, { architectures: ['LlamaForCausalLM'] });
  assert.deepEqual(loadHfWeights(f).get('w')!.toArray(), [1, 2]);
  const dir2 = tmp();
  writeFileSync(join(dir2, 'config.json'), '{}');
  saveShardedSafetensors(dir2, { a: tensor([1, 2]), b: tensor([3, 4]) }, { maxShardSize: 8 });
  const g = findHfFolder(dir2);
  assert.equal(g.sharded, true);
  assert.deepEqual(loadHfWeights(g).get('b')!.toArray(), [3, 4]);
});

test('missing folder, config or weights name what was looked for; pickle is refused with advice', () => {
  assert.throws(() => findHfFolder('/nonexistent/model'), /\/nonexistent\/model: is not a folder/);
  const dir = tmp();
  assert.throws(() => findHfFolder(dir), /has no config.json/);
  writeFileSync(join(dir, 'config.json'), '[1]');
  assert.throws(() => findHfFolder(dir), /config.json: must hold a JSON object/);
  writeFileSync(join(dir, 'config.json'), '{');
  assert.throws(() => findHfFolder(dir), /config.json: is not a readable JSON file/);
  writeFileSync(join(dir, 'config.json'), '{}');
  assert.throws(() => findHfFolder(dir), /has no weights: looked for model.safetensors and model.safetensors.index.json/);
  writeFileSync(join(dir, 'pytorch_model.bin'), 'x');
  assert.throws(() => findHfFolder(dir), /has only pickle weights \(pytorch_model.bin\)\. bfpo never reads pickle.*save_pretrained\('DIR', safe_serialization=True\).*save_file/s);
});
