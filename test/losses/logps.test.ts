// sequenceLogps against a direct log-softmax computed in plain JS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IGNORE_INDEX, randn, sequenceLogps, tensor } from 'bfpo';

test('sums next-token log-probs over labelled positions only', () => {
  const [b, s, v] = [3, 6, 11];
  const logits = randn([b, s, v]);
  const labels = [
    [IGNORE_INDEX, IGNORE_INDEX, 4, 7, 1, IGNORE_INDEX],
    [IGNORE_INDEX, 2, 3, 0, 10, 9],
    [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 5],
  ];
  const L = logits.toArray() as number[][][];
  const expectedSum = labels.map((row, bi) => {
    let total = 0;
    let count = 0;
    for (let t = 1; t < s; t++) {
      if (row[t] === IGNORE_INDEX) continue;
      const z = L[bi][t - 1];
      const max = Math.max(...z);
      const lse = max + Math.log(z.reduce((a, x) => a + Math.exp(x - max), 0));
      total += z[row[t]] - lse;
      count++;
    }
    return [total, total / count];
  });
  const lab = tensor(labels);
  const sum = sequenceLogps(logits, lab).toArray() as number[];
  const avg = sequenceLogps(logits, lab, { average: true }).toArray() as number[];
  sum.forEach((x, i) => assert.ok(Math.abs(x - expectedSum[i][0]) < 1e-4, `${x} vs ${expectedSum[i][0]}`));
  avg.forEach((x, i) => assert.ok(Math.abs(x - expectedSum[i][1]) < 1e-5, `${x} vs ${expectedSum[i][1]}`));
  // bfloat16 logits are scored in float32.
  const bf = sequenceLogps(logits.to('bfloat16'), lab).toArray() as number[];
  bf.forEach((x, i) => assert.ok(Math.abs(x - expectedSum[i][0]) < 0.2));
});

test('shape errors name the argument', () => {
  assert.throws(() => sequenceLogps(randn([2, 3]), tensor([[1, 2, 3]])), /Expected logits of shape \[batch, seq, vocab\] for logits/);
  assert.throws(() => sequenceLogps(randn([2, 3, 4]), tensor([[1, 2, 3]])), /Expected labels of shape \[2, 3\] for labels/);
});
