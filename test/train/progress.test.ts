// The console: the compact step line, phase progress as plain periodic lines off a terminal, and the metric averager.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, phaseProgress, stepLine } from '../../src/train/progress.js';
import { MetricAverager } from '../../src/train/evaluate.js';

test('durations and the step line', () => {
  assert.equal(formatDuration(45.4), '45s');
  assert.equal(formatDuration(200), '3m20s');
  assert.equal(formatDuration(3720), '1h02m');
  assert.equal(formatDuration(Number.NaN), '?');
  assert.equal(stepLine({ epoch: 0.5, step: 5, total: 10, loss: 0.69314, accuracy: 0.75, margin: 0.01234, lr: 5e-7, tokensPerSecond: 1234.4, etaSeconds: 65 }),
    'epoch 0.50 | step 5/10 | loss 0.6931 | acc 0.750 | margin 0.0123 | lr 5.00e-7 | 1234 tok/s | ETA 1m05s');
  assert.equal(stepLine({ epoch: 2, step: 3, total: 3, loss: 1.5 }), 'epoch 2.00 | step 3/3 | loss 1.5000');
});

function capture(isTTY: boolean): { stream: NodeJS.WriteStream; out: () => string } {
  let text = '';
  const stream = { isTTY, columns: 100, write: (s: string) => { text += s; return true; }, on() { return stream; }, removeListener() { return stream; } };
  return { stream: stream as unknown as NodeJS.WriteStream, out: () => text };
}

test('off a terminal a phase prints a plain line every 10% and every 30 s, with no escape codes', () => {
  const { stream, out } = capture(false);
  let t = 0;
  const p = phaseProgress('tokenizing', 100, { stream, now: () => t, quietSeconds: 0 });
  for (let i = 1; i <= 25; i++) { t += 100; p.update(i); }
  assert.deepEqual(out().trim().split('\n'), ['tokenizing: 10/100 (10%), 1s elapsed, ETA 9s', 'tokenizing: 20/100 (20%), 2s elapsed, ETA 8s']);
  t += 40_000;
  p.update(26);
  p.log('a message');
  p.update(27);
  p.stop();
  const lines = out().trim().split('\n');
  assert.equal(lines[2], 'tokenizing: 26/100 (26%), 43s elapsed, ETA 2m01s');
  assert.equal(lines[3], 'a message');
  assert.equal(lines[4], 'tokenizing: 27/100 (27%), 43s elapsed, ETA 1m55s');
  assert.equal(lines.length, 5);
  assert.doesNotMatch(out(), /\x1b/);
});

test('off a terminal a phase shorter than 2 seconds prints nothing; a longer one starts printing after 2 seconds', () => {
  const { stream, out } = capture(false);
  let t = 0;
  const short = phaseProgress('hashing data files (bytes)', 10, { stream, now: () => t });
  for (let i = 1; i <= 10; i++) { t += 100; short.update(i); }
  short.stop();
  assert.equal(out(), '');
  const long = phaseProgress('reference pass (train)', 10, { stream, now: () => t });
  t += 1000;
  long.update(5);
  assert.equal(out(), '');
  t += 1500;
  long.update(6);
  long.stop();
  assert.equal(out(), 'reference pass (train): 6/10 (60%), 3s elapsed, ETA 2s\n');
});

test('a resumed phase counts its rate from where it started', () => {
  const { stream, out } = capture(false);
  let t = 0;
  const p = phaseProgress('training', 10, { stream, start: 6, now: () => t, quietSeconds: 0 });
  t += 2000;
  p.update(7);
  assert.equal(out(), 'training: 7/10 (70%), 2s elapsed, ETA 6s\n');
});

test('on a terminal a phase draws a cli-progress bar and prints the lines logged up to its end', () => {
  const { stream, out } = capture(true);
  const p = phaseProgress('reference pass (train)', 4, { stream });
  p.update(2);
  p.log('checkpoint saved: out/checkpoint-2 (step 2)');
  p.stop();
  assert.match(out(), /reference pass \(train\) \[.*\] 2\/4 50%/);
  assert.match(out(), /checkpoint saved: out\/checkpoint-2 \(step 2\)\n/, 'a line logged just before the end is printed');
});

test('a phase inside another: a second bar on a terminal, plain lines of its own otherwise', () => {
  const tty = capture(true);
  const outer = phaseProgress('training', 10, { stream: tty.stream });
  const inner = outer.child('evaluation', 3);
  inner.update(3);
  outer.stop();
  assert.match(tty.out(), /training \[.*\] 0\/10[^\n]*\n.*evaluation \[.*\] 3\/3 100%/);
  inner.stop();
  const plain = capture(false);
  let t = 0;
  const outer2 = phaseProgress('training', 10, { stream: plain.stream, now: () => t });
  const inner2 = outer2.child('evaluation', 4);
  t += 3000;
  inner2.update(4);
  inner2.stop();
  assert.equal(plain.out(), 'evaluation: 4/4 (100%), 3s elapsed, ETA 0s\n');
});

test('the averager means each key over the entries that have it and skips non-finite values', () => {
  const a = new MetricAverager();
  a.add({ loss: 1, x: 2 });
  a.add({ loss: 3, y: Number.NaN });
  assert.equal(a.peek('loss'), 2);
  assert.deepEqual(a.take(), { loss: 2, x: 2 });
  assert.deepEqual(a.take(), {});
});
