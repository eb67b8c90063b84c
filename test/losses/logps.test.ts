// sequenceLogps against a direct log-softmax computed in plain JS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randn, sequenceLogps, tensor, tidy } from 'bfpo';
import { IGNORE_INDEX } from 'bfpo/data';
import { packedSequenceLogps, scoredPositions } from 'bfpo/losses';

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

test('packed log-probs: only the scored positions, same sums, averages and gradients as the full logits', () => {
  const [b, s, v] = [3, 6, 11];
  const labels = tensor([
    [IGNORE_INDEX, IGNORE_INDEX, 4, 7, 1, IGNORE_INDEX],
    [IGNORE_INDEX, 2, 3, 0, 10, 9],
    [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX], // nothing scored
  ]);
  const pos = scoredPositions(labels);
  // position p of row r is scored when labels[r][p + 1] is a label: row 0 -> 1, 2, 3; row 1 -> 0..4
  assert.deepEqual(Array.from(pos.rows.toTypedArray() as BigInt64Array, Number), [1, 2, 3, 6, 7, 8, 9, 10]);
  assert.deepEqual(Array.from(pos.targets.toTypedArray() as BigInt64Array, Number), [4, 7, 1, 2, 3, 0, 10, 9]);
  assert.deepEqual(Array.from(pos.sequence.toTypedArray() as BigInt64Array, Number), [0, 0, 0, 1, 1, 1, 1, 1]);
  for (const average of [false, true]) {
    const full = randn([b, s, v]).requiresGrad_(true);
    const dense = sequenceLogps(full, labels, { average }); // [b]
    tidy(() => dense.mul(tensor([1, -2, 3])).sum().backward());
    const packedIn = full.detach().clone().requiresGrad_(true);
    const packed = packedSequenceLogps(packedIn.reshape(b * s, v).indexSelect(0, pos.rows), pos, { average }); // [b]
    tidy(() => packed.mul(tensor([1, -2, 3])).sum().backward());
    const [d, p] = [dense.toArray() as number[], packed.toArray() as number[]];
    d.forEach((x, i) => assert.ok(Math.abs(x - p[i]) < 1e-5, `${average}: row ${i}: ${x} vs ${p[i]}`));
    assert.equal(p[2], 0, 'a row without scored positions gets 0');
    const [gd, gp] = [full.grad!.toTypedArray() as Float32Array, packedIn.grad!.toTypedArray() as Float32Array];
    gd.forEach((x, i) => assert.ok(Math.abs(x - gp[i]) < 1e-6, `grad ${i}: ${x} vs ${gp[i]}`));
  }
  assert.throws(() => packedSequenceLogps(randn([7, v]), pos), /Expected logits of shape \[8, vocab\] \(one row per scored position\) for logits/);
  assert.throws(() => scoredPositions(tensor([1, 2])), /Expected labels of shape \[batch, seq\] for labels/);
});
