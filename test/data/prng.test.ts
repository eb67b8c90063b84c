import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Prng } from 'bfpo/data';

// Golden values from an independent Python implementation: scripts/fixtures/data_prng.py
const gold = JSON.parse(readFileSync('test/fixtures/data/prng.json', 'utf8'));

test('xoshiro128** seeded by SplitMix64 matches the Python reference', () => {
  const r = new Prng(42);
  assert.deepEqual(Array.from({ length: 8 }, () => r.nextUint32()), gold.seed42_first8);
  const z = new Prng(0);
  assert.deepEqual(Array.from({ length: 4 }, () => z.nextUint32()), gold.seed0_first4);
});

test('bounded integers and the Fisher-Yates shuffle match the Python reference', () => {
  assert.deepEqual(new Prng(42).shuffle([...Array(20).keys()]), gold.seed42_shuffle20);
  const r = new Prng(7);
  assert.deepEqual(Array.from({ length: 10 }, () => r.below(1000)), gold.seed7_below1000);
});
