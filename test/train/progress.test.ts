// The console progress line and the metric averager.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, progressLine, ProgressBar } from '../../src/train/progress.js';
import { MetricAverager } from '../../src/train/evaluate.js';

test('durations and the progress line', () => {
  assert.equal(formatDuration(45.4), '45s');
  assert.equal(formatDuration(200), '3m20s');
  assert.equal(formatDuration(3720), '1h02m');
  assert.equal(formatDuration(Number.NaN), '?');
  assert.equal(progressLine({ step: 5, total: 10, loss: 0.69314, lr: 5e-7, tokensPerSecond: 1234.4, etaSeconds: 65 }, 10),
    '█████░░░░░ 5/10 | loss 0.6931 | lr 5.00e-7 | 1234 tok/s | ETA 1m05s');
});

test('no bar when the stream is not a terminal; lines still print', () => {
  let out = '';
  const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
  const bar = new ProgressBar(stream);
  bar.update({ step: 1, total: 2 });
  assert.equal(out, '');
  bar.println('step 1: loss 1');
  assert.equal(out, 'step 1: loss 1\n');
  const tty = { isTTY: true, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
  out = '';
  const b2 = new ProgressBar(tty);
  b2.update({ step: 1, total: 2 });
  assert.match(out, /^\r\x1b\[2K.* 1\/2$/);
});

test('the averager means each key over the entries that have it and skips non-finite values', () => {
  const a = new MetricAverager();
  a.add({ loss: 1, x: 2 });
  a.add({ loss: 3, y: Number.NaN });
  assert.equal(a.peek('loss'), 2);
  assert.deepEqual(a.take(), { loss: 2, x: 2 });
  assert.deepEqual(a.take(), {});
});
