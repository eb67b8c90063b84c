// runStepsBatched: many tokenization generators with one batch encoder per group, results in item order, generators
// that yield twice, errors in data order, and an encoder that returns the wrong number of id lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runStepsBatched, type BatchTextEncoder, type EncodeSteps } from 'bfpo/data';

/** Encodes a text as its character codes, and records each batch it was given. */
function charEncoder(): BatchTextEncoder & { batches: string[][] } {
  const batches: string[][] = [];
  return { batches, encodeBatch: async (texts) => { batches.push(texts); return texts.map((t) => Array.from(t, (c) => c.charCodeAt(0))); } };
}

// Item n: encodes "n", and when n is odd also "n!" in a second round; returns the sum of all codes.
function* steps(n: number): EncodeSteps<number> {
  const [a] = yield [String(n)];
  let sum = Array.from(a!).reduce((x, y) => x + y, 0);
  if (n % 2 === 1) {
    const [b] = yield [`${n}!`];
    sum += Array.from(b!).reduce((x, y) => x + y, 0);
  }
  return sum;
}
const expectedSum = (n: number): number => [...String(n)].reduce((x, c) => x + c.charCodeAt(0), 0) * (n % 2 ? 2 : 1) + (n % 2 ? 33 : 0);

test('results come in item order; each group is one batch per round', async () => {
  const items = Array.from({ length: 23 }, (_, i) => i);
  const enc = charEncoder();
  const progress: number[] = [];
  const out = await runStepsBatched(items, steps, enc, { chunkSize: 5, onProgress: (d, t) => { assert.equal(t, 23); progress.push(d); } });
  assert.deepEqual(out, items.map(expectedSum));
  assert.deepEqual(progress, [5, 10, 15, 20, 23]);
  // 5 groups, each with a first round (all items) and a second round (its odd items): 10 batches.
  assert.equal(enc.batches.length, 10);
  assert.deepEqual(enc.batches.find((b) => b.includes('0')), ['0', '1', '2', '3', '4']);
  assert.deepEqual(enc.batches.find((b) => b.includes('1!')), ['1!', '3!']);
  assert.deepEqual(await runStepsBatched([], steps, enc), []);
});

test('errors: the first bad item in data order, a wrong id count, a bad chunkSize', async () => {
  function* failing(n: number): EncodeSteps<number> {
    if (n === 7) throw new Error('render failed at 7');
    const [ids] = yield [String(n)];
    if (n === 2) throw new Error('assemble failed at 2');
    return ids!.length;
  }
  // Item 7's rendering runs while group 0 (items 0-4) encodes, but group 0's error at item 2 comes first.
  await assert.rejects(runStepsBatched(Array.from({ length: 10 }, (_, i) => i), failing, charEncoder(), { chunkSize: 5 }), /assemble failed at 2/);
  await assert.rejects(runStepsBatched([5, 6, 7], failing, charEncoder(), { chunkSize: 2 }), /render failed at 7/);
  const short: BatchTextEncoder = { encodeBatch: async (texts) => texts.slice(1).map(() => [1]) };
  await assert.rejects(runStepsBatched([1, 2], steps, short), /the batch encoder returned 1 id lists for a different number of texts/);
  const broken: BatchTextEncoder = { encodeBatch: async () => { throw new Error('native failure'); } };
  await assert.rejects(runStepsBatched([1, 2, 3], steps, broken, { chunkSize: 1 }), /native failure/);
  await assert.rejects(runStepsBatched([1], steps, charEncoder(), { chunkSize: 0 }), /Expected a positive integer for chunkSize but received 0/);
});
