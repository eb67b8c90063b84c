import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { arange, FormatError } from 'bfpo';
import { loadShardedSafetensors, saveShardedSafetensors, saveSafetensors } from 'bfpo/io';
import { tmpDir } from './tmp-dir.js';

const tmp = (): string => tmpDir('bfpo-shard-');
const weights = () => ({
  'a': arange(10, undefined, 1, { dtype: 'float32' }), // 40 bytes
  'b': arange(20, undefined, 1, { dtype: 'float32' }), // 80 bytes
  'c': arange(5, undefined, 1, { dtype: 'float32' }), // 20 bytes
});

test('writes shards no larger than maxShardSize plus an index, and loads them back', () => {
  const dir = tmp();
  const files = saveShardedSafetensors(dir, weights(), { maxShardSize: 90, metadata: { format: 'pt' } });
  assert.deepEqual(files, ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors', 'model.safetensors.index.json']);
  assert.deepEqual(readdirSync(dir).sort(), [...files].sort());
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  assert.deepEqual(index, {
    metadata: { total_size: 140 },
    weight_map: { a: 'model-00001-of-00003.safetensors', b: 'model-00002-of-00003.safetensors', c: 'model-00003-of-00003.safetensors' },
  });
  const back = loadShardedSafetensors(dir);
  assert.deepEqual(back.get('b')!.toArray(), weights().b.toArray());
  assert.equal(back.size, 3);
});

test('everything in one shard gives model.safetensors and no index', () => {
  const dir = tmp();
  assert.deepEqual(saveShardedSafetensors(dir, weights(), { maxShardSize: '1MB' }), ['model.safetensors']);
  assert.throws(() => saveShardedSafetensors(dir, weights(), { maxShardSize: 'lots' }), /Expected a positive byte count or a size such as '5GB' for maxShardSize/);
});

test('index problems name the index, the shard and the tensor', () => {
  const dir = tmp();
  saveShardedSafetensors(dir, weights(), { maxShardSize: 90 });
  const indexPath = join(dir, 'model.safetensors.index.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8'));
  assert.throws(() => loadShardedSafetensors(join(tmp(), 'x')), (e: Error) => e instanceof FormatError && /model.safetensors.index.json: index file not found/.test(e.message));
  writeFileSync(indexPath, JSON.stringify({ ...index, weight_map: { ...index.weight_map, d: 'model-00003-of-00003.safetensors' } }));
  assert.throws(() => loadShardedSafetensors(dir), /model-00003-of-00003.safetensors: "d": tensor is listed in model.safetensors.index.json but missing from this shard/);
  writeFileSync(indexPath, JSON.stringify({ weight_map: { a: '../evil.safetensors' } }));
  assert.throws(() => loadShardedSafetensors(dir), /"a": shard must be a file name in the same folder/);
  writeFileSync(indexPath, JSON.stringify({ weight_map: [] }));
  assert.throws(() => loadShardedSafetensors(indexPath), /"weight_map": must be an object mapping tensor names to shard files/);
  writeFileSync(indexPath, '{ nope');
  assert.throws(() => loadShardedSafetensors(indexPath), /index.json: is not a readable JSON file/);
  writeFileSync(indexPath, JSON.stringify(index));
  rmSync(join(dir, 'model-00002-of-00003.safetensors'));
  assert.throws(() => loadShardedSafetensors(dir), /"b": shard file model-00002-of-00003.safetensors named in weight_map does not exist/);
  saveSafetensors(join(dir, 'model-00002-of-00003.safetensors'), { other: weights().a });
  assert.throws(() => loadShardedSafetensors(dir), /"b": tensor is listed/);
});
