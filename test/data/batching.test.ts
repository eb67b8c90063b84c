import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchPlan, Prng, collatePairs, collateSft, batchTensors, pairLength, IGNORE_INDEX, type TokenizedPair } from 'bfpo/data';

const src = (row: number) => ({ dataset: 't', row });
function pair(row: number, prompt: number[], chosen: number[], rejected: number[], safe: [0 | 1, 0 | 1] = [1, 1]): TokenizedPair {
  return {
    chosen: { ids: Int32Array.from([...prompt, ...chosen]), promptLength: prompt.length },
    rejected: { ids: Int32Array.from([...prompt, ...rejected]), promptLength: prompt.length },
    isChosenSafe: safe[0], isRejectedSafe: safe[1], source: src(row),
  };
}

test('collatePairs: [2B, T], chosen rows then rejected rows, labels -100 on prompt and padding', () => {
  const b = collatePairs([pair(0, [1, 5], [6, 2], [7, 8, 2], [1, 0]), pair(1, [1], [9, 2], [2], [0, 1])], { padTokenId: 0 });
  assert.deepEqual(b.shape, [4, 5]);
  const rows = (a: BigInt64Array) => Array.from({ length: 4 }, (_, r) => Array.from(a.subarray(r * 5, r * 5 + 5), Number));
  assert.deepEqual(rows(b.inputIds), [[1, 5, 6, 2, 0], [1, 9, 2, 0, 0], [1, 5, 7, 8, 2], [1, 2, 0, 0, 0]]);
  assert.deepEqual(rows(b.attentionMask), [[1, 1, 1, 1, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]);
  const I = IGNORE_INDEX;
  assert.deepEqual(rows(b.labels), [[I, I, 6, 2, I], [I, 9, 2, I, I], [I, I, 7, 8, 2], [I, 2, I, I, I]]);
  assert.deepEqual(Array.from(b.isChosenSafe), [1, 0]);
  assert.deepEqual(Array.from(b.isRejectedSafe), [0, 1]);
  assert.equal(b.pairs, 2);
  assert.ok(Math.abs(b.paddingRatio - (1 - 14 / 20)) < 1e-12);
  assert.deepEqual(collatePairs([pair(0, [1], [2], [2])], { padTokenId: 0, padToMultipleOf: 8 }).shape, [2, 8]);
});

test('collateSft and batchTensors give int64 tensors of the batch shape', () => {
  const b = collateSft([{ ids: Int32Array.from([1, 4, 5]), learn: Uint8Array.from([0, 1, 1]), source: src(0) }, { ids: Int32Array.from([1, 6]), learn: Uint8Array.from([0, 1]), source: src(1) }], { padTokenId: 3 });
  assert.deepEqual(Array.from(b.labels, Number), [IGNORE_INDEX, 4, 5, IGNORE_INDEX, 6, IGNORE_INDEX]);
  const t = batchTensors(b);
  assert.deepEqual(t.inputIds.toArray(), [[1, 4, 5], [1, 6, 3]]);
  assert.equal(t.inputIds.dtype, 'int64');
  assert.deepEqual(t.attentionMask.shape, [2, 3]);
  assert.equal(t.isChosenSafe, undefined);
  for (const x of Object.values(t)) x?.dispose();
  const p = batchTensors(collatePairs([pair(0, [1], [2], [3, 2], [1, 0])], { padTokenId: 0 }));
  assert.deepEqual(p.labels.toArray(), [[IGNORE_INDEX, 2, IGNORE_INDEX], [IGNORE_INDEX, 3, 2]]);
  assert.deepEqual(p.isRejectedSafe!.toArray(), [0]);
  for (const x of Object.values(p)) x?.dispose();
});

// lengths spread widely so that bucketing matters
const lengths = Array.from({ length: 1000 }, (_, i) => 10 + ((i * 7919) % 500));

test('BatchPlan: every example once per epoch, the same order for the same seed, another for another epoch', () => {
  const plan = new BatchPlan(lengths, { batchSize: 8, seed: 42 });
  assert.equal(plan.batchesPerEpoch, 125);
  const e0 = plan.epoch(0);
  assert.deepEqual(e0.flat().sort((a, b) => a - b), [...Array(1000).keys()]);
  assert.deepEqual(new BatchPlan(lengths, { batchSize: 8, seed: 42 }).epoch(0), e0);
  assert.notDeepEqual(plan.epoch(1), e0);
  assert.notDeepEqual(new BatchPlan(lengths, { batchSize: 8, seed: 1 }).epoch(0), e0);
  const dropped = new BatchPlan(lengths.slice(0, 20), { batchSize: 8, dropLast: true });
  assert.equal(dropped.batchesPerEpoch, 2);
  assert.ok(dropped.epoch(0).every((b) => b.length === 8));
});

test('BatchPlan: bucketing cuts padding compared with random batches', () => {
  const bucketed = new BatchPlan(lengths, { batchSize: 8, seed: 42 }).paddingRatio();
  const random = new BatchPlan(lengths, { batchSize: 8, seed: 42, bucketSize: 1 }).paddingRatio();
  assert.ok(bucketed < 0.05, `bucketed padding ${bucketed}`);
  assert.ok(random > 0.3, `random padding ${random}`);
});

test('BatchPlan: resuming from a position yields exactly the rest of the sequence', () => {
  const plan = new BatchPlan(lengths, { batchSize: 16, seed: 3 });
  const it = plan.iterate();
  const first = Array.from({ length: 200 }, () => it.next().value!);
  const pos = plan.advance({ epoch: 0, batch: 0 }, 130); // 63 batches per epoch: epoch 2, batch 4
  assert.deepEqual(pos, { epoch: 2, batch: 4 });
  const resumed = plan.iterate(pos);
  for (let k = 130; k < 200; k++) assert.deepEqual(resumed.next().value, first[k]);
  assert.equal([...plan.iterate({ epoch: 0, batch: 60 }, 1)].length, 3);
});

test('BatchPlan option errors', () => {
  assert.throws(() => new BatchPlan([1], { batchSize: 0 }), /Expected a positive integer for batchSize but received 0/);
  assert.throws(() => new BatchPlan([], { batchSize: 2 }), /Expected at least one example for lengths/);
  assert.throws(() => new BatchPlan([1], { batchSize: 2, bucketSize: 0 }), /Expected a positive integer for bucketSize but received 0/);
});

test('pairLength is the longer sequence, and pair padding counts both rows', () => {
  const pairs = [pair(0, [1], [2], [3, 4, 2]), pair(1, [1], [2, 2], [2])];
  assert.deepEqual(pairs.map(pairLength), [4, 3]);
  const plan = new BatchPlan(pairs.map(pairLength), { batchSize: 2, rowsPerExample: 2, tokens: pairs.map((p) => p.chosen.ids.length + p.rejected.ids.length) });
  assert.equal(plan.paddingRatio(), collatePairs(pairs, { padTokenId: 0 }).paddingRatio);
});

test('pairLoader: resumable batches with positions; a buffer loader cycles past its epoch', async () => {
  const { pairLoader, sftLoader } = await import('bfpo/data');
  const pairs = Array.from({ length: 10 }, (_, i) => pair(i, [1, 3], Array(1 + (i % 4)).fill(5), [6, 2]));
  const loader = pairLoader(pairs, { batchSize: 3, seed: 9, padTokenId: 0 });
  assert.equal(loader.batchesPerEpoch, 4);
  const all = [...loader.batches({ epoch: 0, batch: 0 }, 1)];
  assert.equal(all.length, 4);
  assert.deepEqual(all.map((b) => b.batch.sources.map((s) => s.row)).flat().sort((a, b) => a - b), [...Array(10).keys()]);
  assert.deepEqual(all[1]!.next, { epoch: 0, batch: 2 });
  assert.deepEqual(all[3]!.next, { epoch: 1, batch: 0 });
  const resumed = [...loader.batches(all[1]!.next, 1)];
  assert.deepEqual(resumed.map((b) => b.batch.inputIds), all.slice(2).map((b) => b.batch.inputIds));
  const buffer = loader.batches();
  for (let k = 0; k < 9; k++) buffer.next();
  assert.deepEqual(buffer.next().value!.position, { epoch: 2, batch: 1 });
  const sft = sftLoader([{ ids: Int32Array.from([1, 2]), learn: Uint8Array.from([0, 1]), source: src(0) }], { batchSize: 4, padTokenId: 0 });
  assert.deepEqual([...sft.batches(undefined, 1)][0]!.batch.shape, [1, 2]);
});

test('BatchPlan without length grouping: one seeded permutation per epoch, cut in order, the last batch smaller', () => {
  const lengths = [5, 1, 9, 3, 7, 2, 8];
  const plan = new BatchPlan(lengths, { batchSize: 3, seed: 5, groupByLength: false });
  for (const epoch of [0, 1]) {
    const perm = new Prng((5n << 32n) + BigInt(epoch)).shuffle([...lengths.keys()]);
    assert.deepEqual(plan.epoch(epoch), [perm.slice(0, 3), perm.slice(3, 6), perm.slice(6)]);
  }
  assert.notDeepEqual(plan.epoch(0), plan.epoch(1));
});
