// Batch sources over tokenized data: resumable positions, fixed order for evaluation, fingerprints, layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PairPlanSource, SftPlanSource } from '../../src/train/plan-source.js';
import { disposeBatch } from '../../src/train/types.js';
import type { TokenizedPair } from '../../src/data/tokenize.js';

function pairs(n: number, salt = 0): TokenizedPair[] {
  return Array.from({ length: n }, (_, i) => ({
    chosen: { ids: Int32Array.from({ length: 3 + (i % 4) }, (_, j) => 10 + i + j + salt), promptLength: 2 },
    rejected: { ids: Int32Array.from({ length: 2 + (i % 3) }, (_, j) => 50 + i + j), promptLength: 2 },
    isChosenSafe: (i % 2) as 0 | 1, isRejectedSafe: 1, source: { dataset: 't', row: i },
  }));
}

test('a pair source restarts at any position with the same batches', () => {
  const s = new PairPlanSource(pairs(10), { batchSize: 3, seed: 1, padTokenId: 0 });
  assert.equal(s.length, 4);
  const seen: number[][] = [];
  for (let e = 0; e < 2; e++) {
    s.seek({ epoch: e, batch: 0 });
    for (let b = s.next(); b !== null; b = s.next()) { seen.push(b.indices); disposeBatch(b); }
  }
  assert.equal(seen.length, 8);
  assert.deepEqual([...seen.slice(0, 4).flat()].sort((a, b) => a - b), [...Array(10).keys()]);
  s.seek({ epoch: 1, batch: 2 });
  const again = s.next()!;
  assert.deepEqual(again.indices, seen[6]);
  assert.deepEqual(s.position(), { epoch: 1, batch: 3 });
  disposeBatch(again);
});

test('batches lay chosen rows before rejected rows, with -100 labels on prompt and padding', () => {
  const s = new PairPlanSource(pairs(2), { batchSize: 2, seed: 1, padTokenId: 0, shuffle: false });
  const b = s.next()!;
  assert.deepEqual(b.indices, [0, 1]);
  assert.deepEqual(b.inputIds.shape, [4, 4]);
  assert.deepEqual(b.labels.toArray(), [[-100, -100, 12, -100], [-100, -100, 13, 14], [-100, -100, -100, -100], [-100, -100, 53, -100]]);
  assert.deepEqual(b.isChosenSafe.toArray(), [0, 1]);
  assert.equal(s.next(), null);
  disposeBatch(b);
});

test('the fingerprint follows the token ids', () => {
  const a = new PairPlanSource(pairs(4), { batchSize: 2, seed: 1, padTokenId: 0 });
  assert.equal(a.fingerprint, new PairPlanSource(pairs(4), { batchSize: 4, seed: 9, padTokenId: 0 }).fingerprint);
  assert.notEqual(a.fingerprint, new PairPlanSource(pairs(4, 1), { batchSize: 2, seed: 1, padTokenId: 0 }).fingerprint);
  const sft = new SftPlanSource([{ ids: Int32Array.from([1, 2, 3]), learn: Uint8Array.from([0, 1, 1]), source: { dataset: 't', row: 0 } }], { batchSize: 1, seed: 1, padTokenId: 0 });
  const b = sft.next()!;
  assert.deepEqual(b.labels.toArray(), [[-100, 2, 3]]);
  disposeBatch(b);
});
