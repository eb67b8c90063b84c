// The training loop reads from the device once per optimizer step: every micro-batch's loss and metrics and the
// gradient norm come over together (StepReads), so on a GPU the host never waits between forward and backward.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, manualSeed, tensor } from '../../src/index.js';
import { frozenReference } from '../../src/train/reference.js';
import { StepReads, LOSS_KEY } from '../../src/train/step-reads.js';
import { train } from '../../src/train/trainer.js';
import type { PreferenceBatch } from '../../src/train/types.js';
import { PairSource, TinyLM, makePairs, type Pair } from './tiny.js';
import { testConfig } from './config.js';
import { rawStore } from './store.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Counts the host reads (item, toBuffer and what builds on them) made while `fn` runs. */
function countReads<T>(fn: () => T): { value: T; reads: number } {
  const proto = Tensor.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved = { item: proto.item, toBuffer: proto.toBuffer };
  let reads = 0;
  proto.item = function (this: unknown, ...a: unknown[]) { reads++; return saved.item.apply(this, a); };
  proto.toBuffer = function (this: unknown, ...a: unknown[]) { reads++; return saved.toBuffer.apply(this, a); };
  try {
    return { value: fn(), reads };
  } finally {
    Object.assign(proto, saved);
  }
}

/** Pair batches that carry their token counts, counted on the host (as the plan sources do). */
class CountedPairs extends PairSource {
  protected override build(items: Pair[], indices: number[]): PreferenceBatch {
    const tokens = items.reduce((s, p) => s + 2 * p.prompt.length + p.chosen.length + p.rejected.length, 0);
    return { ...super.build(items, indices), tokens };
  }
}

test('StepReads reads every held value and the extras in one transfer, and frees them', () => {
  const reads = new StepReads();
  const t = (x: number) => tensor(x);
  reads.add({ loss: t(0.5), metrics: {}, pending: [['rewards/chosen', t(1.5)], ['rewards/safe_rewards', t(Number.NaN)], [LOSS_KEY, t(0.25)]] }, { loss: 2, metrics: { a: 3 } });
  const plain = t(0.75);
  reads.add({ loss: plain, metrics: { b: 4 } }, null);
  const norm = t(9);
  const r = countReads(() => reads.read([['grad_norm', norm]]));
  assert.equal(r.reads, 1, 'one transfer');
  assert.deepEqual(r.value.steps, [
    { main: { metrics: { 'rewards/chosen': 1.5 }, loss: 0.25 }, buffer: { metrics: { a: 3 }, loss: 2 } },
    { main: { metrics: { b: 4 }, loss: 0.75 }, buffer: null },
  ]);
  assert.deepEqual(r.value.extra, { grad_norm: 9 });
  assert.equal(plain.isDisposed, false, "the caller's tensors are its own");
  plain.dispose();
  norm.dispose();
});

test('an optimizer step with accumulation and a buffer batch reads from the device once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-reads-'));
  dirs.push(dir);
  manualSeed(1);
  const perStep: number[] = [];
  let last = 0;
  let counter = 0;
  class Watched extends TinyLM {
    forwards = 0;
    override forward(ids: Tensor) {
      // The policy's first forward of each optimizer step (2 micro-batches, each with its buffer batch: 4 forwards).
      if (this.forwards++ % 4 === 0) { perStep.push(counter - last); last = counter; }
      return super.forward(ids);
    }
  }
  const m = new Watched(11, 8, 0);
  const task = {
    kind: 'preference' as const, train: new CountedPairs(makePairs(16, 3), 4, false), buffer: new CountedPairs(makePairs(8, 5), 4, false),
    reference: frozenReference(m.clone()), loss: { lossType: 'bfpo' as const, beta: 0.5 },
  };
  const proto = Tensor.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved = { item: proto.item, toBuffer: proto.toBuffer };
  proto.item = function (this: unknown, ...a: unknown[]) { counter++; return saved.item.apply(this, a); };
  proto.toBuffer = function (this: unknown, ...a: unknown[]) { counter++; return saved.toBuffer.apply(this, a); };
  try {
    // Logging every step and no checkpoints until the end, so the steps' own reads are what is counted.
    train(m, task, testConfig(dir, { gradientAccumulationSteps: 2, maxGradNorm: 1, loggingSteps: 1, numTrainEpochs: 1 }), rawStore(m));
  } finally {
    Object.assign(proto, saved);
    m.dispose();
  }
  // perStep[0] counts what came before the first step; perStep[1] the whole first step, logging included.
  assert.equal(perStep.length, 2);
  assert.equal(perStep[1], 1, `reads during the first optimizer step: ${perStep[1]}`);
});
