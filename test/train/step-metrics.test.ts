import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepMetricRecords } from '../../src/train/step-metrics.js';
import { MetricAverager } from '../../src/train/evaluate.js';

const main = { 'rewards/chosen': 0.2, 'rewards/accuracies': 1 };
const buffer = { metrics: { 'rewards/chosen': 0.6, 'rewards/accuracies': 0 }, loss: 0.25 };

test('bfpo layout: buffer metrics under buffer/*, main/loss and buffer/loss, loss = their sum', () => {
  assert.deepEqual(stepMetricRecords(main, buffer, 0.5, false), [{
    'rewards/chosen': 0.2, 'rewards/accuracies': 1, 'buffer/rewards/chosen': 0.6, 'buffer/rewards/accuracies': 0,
    'buffer/loss': 0.25, 'main/loss': 0.5, loss: 0.75,
  }]);
  assert.deepEqual(stepMetricRecords(main, null, 0.5, true), [{ ...main, loss: 0.5 }]);
});

test('original layout: main and buffer batches average into the same keys over a logging window', () => {
  const avg = new MetricAverager();
  // two micro-steps, as the original stored one entry per loss computation (main, buffer, main, buffer)
  for (const record of stepMetricRecords(main, buffer, 0.5, true)) avg.add(record);
  for (const record of stepMetricRecords({ 'rewards/chosen': 0.4, 'rewards/accuracies': 1 }, buffer, 0.3, true)) avg.add(record);
  const out = avg.take();
  assert.ok(Math.abs(out['rewards/chosen']! - (0.2 + 0.6 + 0.4 + 0.6) / 4) < 1e-12);
  assert.equal(out['rewards/accuracies'], (1 + 0 + 1 + 0) / 4);
  assert.ok(Math.abs(out.loss! - (0.75 + 0.55) / 2) < 1e-12);
  assert.equal(Object.keys(out).some((k) => k.startsWith('buffer/') || k === 'main/loss'), false);
});
