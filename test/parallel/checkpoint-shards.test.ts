// Sharded checkpoints (sharding: optimizer): each rank writes its optimizer shard, rank 0 the manifest; resuming at
// the same world size, at another (2 → 1, 2 → 4, 1 → 2) ends with the weights of an uninterrupted run; a corrupted
// or missing shard makes the checkpoint damaged, and the run falls back to the previous one.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distributedSupport } from '../../src/parallel/group.js';
import { loadPretrained } from '../../src/models/pretrained.js';
import { partitionParams } from '../../src/parallel/zero.js';
import { checkpointProblem, SHARD_MANIFEST, TRAINER_STATE } from '../../src/train/checkpoint.js';
import { MasterWeights } from '../../src/train/precision.js';
import { makeOptimizer } from '../../src/train/optimizers.js';
import { restoreOptimizer } from '../../src/train/optimizer-shards.js';
import { runMain } from '../cli/run-main.js';
import { bfpo, finished, maxDiff, root } from './helpers.js';

const skip = !distributedSupport().gloo && 'built without Gloo';
const dir = mkdtempSync(join(tmpdir(), 'bfpo-shards-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const common = ['recipes/tiny-cpu.yaml', `--reference_cache_dir=${join(dir, 'cache')}`, '--max_steps=6', '--logging_steps=1',
  '--do_eval=false', '--evaluation_strategy=no', '--disable_tqdm=true', '--save_steps=3', '--sharding=optimizer'];


async function single(out: string, extra: string[] = []) {
  const r = await runMain(['train', ...common, `--output_dir=${join(dir, out)}`, '--per_device_train_batch_size=4', ...extra], root);
  assert.equal(r.code, undefined, r.err);
  return r;
}

async function ranks(out: string, n: number, extra: string[] = []) {
  const r = await finished(bfpo(['train', ...common, `--output_dir=${join(dir, out)}`, `--nproc_per_node=${n}`, `--per_device_train_batch_size=${4 / n}`, ...extra]));
  assert.equal(r.code, 0, r.err);
  return { ...r, stats: JSON.parse(readFileSync(join(dir, out, 'comm_stats.json'), 'utf8')) };
}

/** Keeps only checkpoint-3 of `from` in a new output folder `to` (as if the run had stopped after step 3). */
function stoppedAt3(from: string, to: string): void {
  cpSync(join(dir, from), join(dir, to), { recursive: true });
  for (const f of ['checkpoint-6', 'train_results.json', 'model.safetensors']) rmSync(join(dir, to, f), { recursive: true, force: true });
}

const sha256 = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

const trainable = (): { names: string[]; sizes: number[] } => {
  const m = loadPretrained(join(root, 'recipes/tiny/model'), { dtype: 'float32' }).model;
  const ps = m.namedParameters();
  const out = { names: ps.map(([n]) => n), sizes: ps.map(([, p]) => p.numel()) };
  m.dispose();
  return out;
};

test('2 ranks write one optimizer shard each and a manifest; the weights are those of one process', { skip }, async () => {
  await single('one');
  const z = await ranks('zero', 2);
  assert.ok(maxDiff(join(dir, 'one'), join(dir, 'zero')) <= 1e-5);
  const ck = join(dir, 'zero', 'checkpoint-3');
  const files = readdirSync(ck);
  assert.ok(!files.includes('optimizer.json') && !files.includes('optimizer-tensors.bin'), 'no gathered optimizer state');
  const m = JSON.parse(readFileSync(join(ck, SHARD_MANIFEST), 'utf8'));
  const { names, sizes } = trainable();
  assert.equal(m.world_size, 2);
  assert.deepEqual(m.param_names, names);
  // Each shard holds exactly the parameters its rank owns under the partition.
  const owner = partitionParams(sizes, 2);
  for (const r of [0, 1]) {
    const shard = m.shards.find((s: { rank: number }) => s.rank === r);
    assert.deepEqual(shard.params, owner.flatMap((o, i) => (o === r ? [i] : [])));
    assert.deepEqual(Object.keys(shard.files).sort(), [`optimizer-shard-${r}-of-2-tensors.bin`, `optimizer-shard-${r}-of-2-tensors.json`, `optimizer-shard-${r}-of-2.json`]);
    for (const [f, c] of Object.entries(shard.files) as [string, { bytes: number; sha256: string }][]) {
      assert.equal(c.sha256, sha256(join(ck, f)), `${f}'s checksum`);
      assert.equal(c.bytes, statSync(join(ck, f)).size);
    }
    // AdamW's two fp32 moments of each owned parameter (4 bytes each).
    const owned = shard.params.reduce((a: number, i: number) => a + sizes[i]!, 0);
    const bin = statSync(join(ck, `optimizer-shard-${r}-of-2-tensors.bin`)).size;
    assert.equal(bin, 2 * 4 * owned);
    process.stderr.write(`checkpoint-3 optimizer shard of rank ${r}: ${bin} bytes (${owned} parameters)\n`);
  }
  const state = JSON.parse(readFileSync(join(ck, TRAINER_STATE), 'utf8'));
  assert.ok(state.files[SHARD_MANIFEST] && state.files['optimizer-shard-1-of-2-tensors.bin'], 'the trainer state covers the shards and the manifest');
  // Nothing is gathered to rank 0 any more: the broadcasts are the start-up and each step's owned parameters.
  assert.equal(z.stats.broadcast_bytes, 4 * sizes.reduce((a, n) => a + n, 0) * (6 + 1));
});

test('a sharded checkpoint resumes at the same world size and at 1 and 4 ranks to the uninterrupted weights', { skip }, async () => {
  if (!existsSync(join(dir, 'zero'))) await ranks('zero', 2);
  if (!existsSync(join(dir, 'one'))) await single('one');
  stoppedAt3('zero', 'same');
  const same = await ranks('same', 2);
  assert.match(same.err, /Resuming from .*checkpoint-3 at step 3 of 6/);
  assert.ok(maxDiff(join(dir, 'one'), join(dir, 'same')) <= 1e-5, 'same world size');

  stoppedAt3('zero', 'to-one');
  const r = await single('to-one');
  assert.match(r.err, /Resuming from .*checkpoint-3 at step 3 of 6/);
  assert.ok(maxDiff(join(dir, 'one'), join(dir, 'to-one')) <= 1e-5, '2 ranks → 1 process');

  stoppedAt3('zero', 'to-four');
  const four = await ranks('to-four', 4);
  assert.match(four.err, /Resuming from .*checkpoint-3 at step 3 of 6/);
  assert.ok(maxDiff(join(dir, 'one'), join(dir, 'to-four')) <= 1e-5, '2 ranks → 4 ranks');
  assert.equal(JSON.parse(readFileSync(join(dir, 'to-four', 'checkpoint-6', SHARD_MANIFEST), 'utf8')).world_size, 4);
});

test('a checkpoint of one process (gathered format) resumes on 2 ranks, each reading its own parameters', { skip }, async () => {
  if (!existsSync(join(dir, 'one'))) await single('one');
  stoppedAt3('one', 'from-one');
  assert.ok(existsSync(join(dir, 'from-one', 'checkpoint-3', 'optimizer-tensors.bin')));
  const two = await ranks('from-one', 2);
  assert.match(two.err, /Resuming from .*checkpoint-3 at step 3 of 6/);
  assert.ok(maxDiff(join(dir, 'one'), join(dir, 'from-one')) <= 1e-5, '1 process → 2 ranks');
  assert.ok(existsSync(join(dir, 'from-one', 'checkpoint-6', SHARD_MANIFEST)), 'the ranks write shards from then on');
});

test('a corrupted or missing optimizer shard makes the checkpoint damaged; the run falls back to the previous one', { skip }, async () => {
  if (!existsSync(join(dir, 'zero'))) await ranks('zero', 2);
  if (!existsSync(join(dir, 'one'))) await single('one');
  for (const [name, damage, why] of [
    ['corrupt', (p: string) => { const b = readFileSync(p); b[b.length - 1] ^= 0xff; writeFileSync(p, b); }, /optimizer-shard-1-of-2-tensors\.bin has changed since it was written \(SHA-256 differs\)/],
    ['missing', (p: string) => rmSync(p), /optimizer-shard-1-of-2-tensors\.bin is missing/],
  ] as const) {
    const out = `damaged-${name}`;
    cpSync(join(dir, 'zero'), join(dir, out), { recursive: true });
    for (const f of ['train_results.json', 'model.safetensors']) rmSync(join(dir, out, f));
    damage(join(dir, out, 'checkpoint-6', 'optimizer-shard-1-of-2-tensors.bin'));
    assert.match(checkpointProblem(join(dir, out, 'checkpoint-6')) ?? '', why);
    const r = await ranks(out, 2);
    assert.match(r.err, new RegExp(`checkpoint-6 is damaged: ${why.source}; it is not resumed from`));
    assert.match(r.err, /falling back to .*checkpoint-3, the newest intact checkpoint/);
    assert.ok(maxDiff(join(dir, 'one'), join(dir, out)) <= 1e-5, `${name}: resumed from checkpoint-3 to the same weights`);
  }
});

test('the manifest must list one shard per rank and split the parameters exactly', () => {
  const ck = join(dir, 'manifest-only');
  mkdirSync(ck, { recursive: true });
  const write = (m: unknown) => {
    writeFileSync(join(ck, SHARD_MANIFEST), JSON.stringify(m));
    writeFileSync(join(ck, TRAINER_STATE), JSON.stringify({ global_step: 1 }));
  };
  writeFileSync(join(ck, 'a.bin'), 'abc');
  const a = { 'a.bin': { bytes: 3, sha256: sha256(join(ck, 'a.bin')) } };
  write({ world_size: 2, param_count: 2, shards: [{ rank: 0, params: [0, 1], files: a }] });
  assert.match(checkpointProblem(ck)!, /lists the shards of ranks \[0\], not one for each of 2 ranks/);
  write({ world_size: 2, param_count: 3, shards: [{ rank: 0, params: [0], files: a }, { rank: 1, params: [0, 1], files: a }] });
  assert.match(checkpointProblem(ck)!, /parameter 0 is held by 2 shards, not 1/);
  write({ world_size: 1, param_count: 1, shards: [{ rank: 0, params: [0], files: { 'a.bin': { bytes: 3, sha256: '0'.repeat(64) } } }] });
  assert.match(checkpointProblem(ck)!, /rank 0's optimizer shard: a\.bin has changed since it was written/);
  write({ world_size: 1, param_count: 1, shards: [{ rank: 0, params: [0], files: a }] });
  assert.equal(checkpointProblem(ck), null);
});

test('bf16: the fp32 masters stored in the shards come back whole in one process (with AdamW\'s moments)', { skip }, async () => {
  const run = await finished(bfpo(['train', ...common.filter((a) => a !== '--max_steps=6'), '--max_steps=3', `--output_dir=${join(dir, 'bf16')}`, '--nproc_per_node=2',
    '--per_device_train_batch_size=2', '--bf16=true']));
  assert.equal(run.code, 0, run.err);
  const ck = join(dir, 'bf16', 'checkpoint-3');
  const m = JSON.parse(readFileSync(join(ck, SHARD_MANIFEST), 'utf8'));
  // The stored values, read straight from each shard's index and bytes.
  const stored = new Map<string, Float32Array>();
  for (const r of [0, 1]) {
    const index = JSON.parse(readFileSync(join(ck, `optimizer-shard-${r}-of-2-tensors.json`), 'utf8')) as Record<string, { dtype: string; offset: number; bytes: number }>;
    const bin = readFileSync(join(ck, `optimizer-shard-${r}-of-2-tensors.bin`));
    for (const [name, e] of Object.entries(index)) {
      assert.equal(e.dtype, 'float32', name);
      stored.set(name, new Float32Array(bin.buffer.slice(bin.byteOffset + e.offset, bin.byteOffset + e.offset + e.bytes)));
    }
  }
  const { model } = loadPretrained(ck, { dtype: 'bfloat16' });
  const byName = new Map(model.namedParameters());
  const params = (m.param_names as string[]).map((n) => byName.get(n)!);
  const masters = new MasterWeights(params);
  const opt = makeOptimizer(masters.params(), { optim: 'adamw_torch', learningRate: 1e-3, weightDecay: 0, adamBeta1: 0.9, adamBeta2: 0.999, adamEpsilon: 1e-8, momentum: 0 });
  try {
    restoreOptimizer(ck, opt, masters, m.param_names);
    const sd = opt.stateDict();
    let differsFromBf16 = false;
    m.param_names.forEach((_: string, i: number) => {
      const master = masters.master[i]!.toTypedArray() as Float32Array;
      assert.deepEqual(master, stored.get(`${i}.master`), `master ${i}`);
      assert.deepEqual(sd.state[i]!.expAvg && (sd.state[i]!.expAvg as { toTypedArray(): unknown }).toTypedArray(), stored.get(`${i}.expAvg`), `expAvg ${i}`);
      const bf = params[i]!.to('float32');
      if (!(bf.toTypedArray() as Float32Array).every((x, k) => x === master[k])) differsFromBf16 = true;
      bf.dispose();
    });
    assert.ok(differsFromBf16, 'the masters hold more than the bf16 weights (so the check above means something)');
    assert.equal(sd.state[0]!.step, 3);
  } finally {
    opt.dispose();
    masters.dispose();
    model.dispose();
  }
});
