// The training loop on a tiny causal LM: accumulation, repeatability, buffer data, references, bf16, selective
// layers, NaN stop, checkpoint resume and refusal.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, memoryStats, type Tensor } from '../../src/index.js';
import { train, TrainingDivergedError, type TrainingTask } from '../../src/train/trainer.js';
import { cachedReferenceLogps, frozenReference, precomputedReference } from '../../src/train/reference.js';
import { CheckpointMismatchError } from '../../src/train/checkpoint.js';
import { TinyLM, PairSource, SftSource, makePairs } from './tiny.js';
import { rawStore } from './store.js';
import { testConfig } from './config.js';

const made: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'bfpo-train-'));
  made.push(d);
  return d;
}
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((x, i) => x.map((v, j) => Math.abs(v - b[i][j]))));

function model(seed = 1, dropout = 0, dtype: 'float32' | 'bfloat16' = 'float32'): TinyLM {
  manualSeed(seed);
  return new TinyLM(11, 8, dropout, dtype);
}

function prefTask(m: TinyLM, pairs = makePairs(8, 3), batchSize = 8, extra: Partial<Extract<TrainingTask, { kind: 'preference' }>> = {}): TrainingTask {
  return { kind: 'preference', train: new PairSource(pairs, batchSize, false), reference: frozenReference(m.clone()), loss: { lossType: 'bfpo', beta: 0.5 }, ...extra };
}

for (const optim of ['sgd', 'adamw_torch'] as const) {
  test(`8 accumulation steps of 1 pair train like one batch of 8 (${optim})`, () => {
    const dirs = [tmp(), tmp()];
    try {
      const a = model(1);
      train(a, prefTask(a, makePairs(8, 3), 8), testConfig(dirs[0], { optim, learningRate: 0.1 }), rawStore(a));
      const b = model(1);
      train(b, prefTask(b, makePairs(8, 3), 1), testConfig(dirs[1], { optim, learningRate: 0.1, gradientAccumulationSteps: 8 }), rawStore(b));
      const init = model(1).snapshot();
      assert.ok(maxDiff(a.snapshot(), init) > 1e-3, 'the step changed the weights');
      const d = maxDiff(a.snapshot(), b.snapshot());
      assert.ok(d < 1e-5, `max difference ${d}`);
    } finally {
      dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    }
  });
}

test('training lowers the loss, logs JSONL and TensorBoard, saves checkpoints with rotation, and a seed repeats a run', () => {
  const dirs = [tmp(), tmp()];
  try {
    const snaps = dirs.map((dir) => {
      const m = model(1, 0.2);
      const task = prefTask(m, makePairs(16, 5), 4);
      const r = train(m, task, testConfig(dir, { numTrainEpochs: 5, saveStrategy: 'steps', saveSteps: 3, saveTotalLimit: 2, reportTo: ['tensorboard'], loggingSteps: 2 }), rawStore(m));
      assert.equal(r.globalStep, 20);
      return m.snapshot();
    });
    assert.deepEqual(snaps[0], snaps[1]);
    const lines = readFileSync(join(dirs[0], 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 10);
    assert.ok(lines[9].loss < lines[0].loss, `loss ${lines[0].loss} -> ${lines[9].loss}`);
    for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected', 'learning_rate', 'tokens_per_second']) {
      assert.ok(k in lines[0], `log has ${k}`);
    }
    assert.ok(readdirSync(join(dirs[0], 'runs')).some((f) => f.startsWith('events.out.tfevents.')));
    assert.deepEqual(readdirSync(dirs[0]).filter((f) => f.startsWith('checkpoint-')).sort(), ['checkpoint-18', 'checkpoint-20']);
    assert.ok(existsSync(join(dirs[0], 'model.json')), 'final model saved in output_dir');
  } finally {
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
});

test('resuming from a checkpoint ends with the same weights, and another run\'s folder is refused', () => {
  const [full, part] = [tmp(), tmp()];
  try {
    const cfg = (dir: string) => testConfig(dir, { numTrainEpochs: 3, saveStrategy: 'steps', saveSteps: 2, lrSchedulerType: 'cosine', warmupRatio: 0.2 });
    const a = model(1, 0.3);
    train(a, prefTask(a, makePairs(12, 7), 3), cfg(full), rawStore(a));
    const b = model(1, 0.3);
    train(b, prefTask(b, makePairs(12, 7), 3), { ...cfg(part), maxSteps: -1 }, rawStore(b));
    // Drop the later checkpoints: the next run resumes from step 6 of 12.
    for (const s of [8, 10, 12]) rmSync(join(part, `checkpoint-${s}`), { recursive: true });
    const c = model(1, 0.3);
    const r = train(c, prefTask(c, makePairs(12, 7), 3), cfg(part), rawStore(c));
    assert.equal(r.resumedFrom, join(part, 'checkpoint-6'));
    assert.deepEqual(c.snapshot(), a.snapshot());

    const d = model(1, 0.3);
    assert.throws(() => train(d, prefTask(d), testConfig(part, { learningRate: 0.5 }), rawStore(d)), (e: Error) =>
      e instanceof CheckpointMismatchError && /another run/.test(e.message) && /learning_rate: 0.05 there, 0.5 now/.test(e.message));
  } finally {
    [full, part].forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
});

test('the buffer data: one main and one buffer batch per micro-step, losses added, buffer restarts, epoch from main', () => {
  const dir = tmp();
  try {
    const m = model(2);
    const buffer = new PairSource(makePairs(3, 9).map((p) => ({ ...p, sc: 1 as const, sr: 1 as const })), 2);
    const task = prefTask(m, makePairs(10, 4), 2, { buffer });
    const r = train(m, task, testConfig(dir, { numTrainEpochs: 2 }), rawStore(m));
    assert.equal(r.globalStep, 10, 'epochs counted on the main data (5 batches)');
    assert.equal(buffer.nextCalls, 10, 'one buffer batch per micro-step');
    assert.equal(buffer.position().epoch, 4, 'the 2-batch buffer restarted 4 times');
    const log = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    for (const l of log) assert.ok(Math.abs(l.loss - (l['main/loss'] + l['buffer/loss'])) < 1e-4 * Math.max(1, Math.abs(l.loss)));
    assert.ok('buffer/rewards/chosen' in log[0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('precomputed reference log-probs train like a frozen copy and are reused from the cache', () => {
  const [d1, d2, cache] = [tmp(), tmp(), tmp()];
  try {
    const a = model(3);
    train(a, prefTask(a, makePairs(12, 2), 4), testConfig(d1, { numTrainEpochs: 2 }), rawStore(a));
    const b = model(3);
    const source = new PairSource(makePairs(12, 2), 4, false);
    const first = cachedReferenceLogps(b, source, cache, { maxLength: 32 });
    assert.equal(first.hit, false);
    const again = cachedReferenceLogps(b, source, cache, { maxLength: 32 });
    assert.equal(again.hit, true);
    assert.deepEqual([...again.table], [...first.table]);
    assert.equal(cachedReferenceLogps(b, source, cache, { maxLength: 64 }).hit, false, 'other settings, other key');
    train(b, { kind: 'preference', train: source, reference: precomputedReference({ train: again.table }), loss: { lossType: 'bfpo', beta: 0.5 } },
      testConfig(d2, { numTrainEpochs: 2 }), rawStore(b));
    assert.ok(maxDiff(a.snapshot(), b.snapshot()) < 1e-5);
  } finally {
    [d1, d2, cache].forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
});

test('evaluation runs every eval_steps with the full metric set', () => {
  const dir = tmp();
  try {
    const m = model(4);
    const task = prefTask(m, makePairs(8, 1), 2, { eval: new PairSource(makePairs(4, 11), 2, false) });
    const r = train(m, task, testConfig(dir, { evalStrategy: 'steps', evalSteps: 2 }), rawStore(m));
    const evals = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'eval_loss' in l);
    assert.deepEqual(evals.map((e) => e.step), [2, 4]);
    for (const k of ['eval_rewards/chosen', 'eval_rewards/accuracies', 'eval_rewards/margins', 'eval_logps/chosen', 'eval_logits/rejected']) assert.ok(k in r.lastEval, k);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('selected layers: only matching parameters change; a pattern that matches nothing is refused', () => {
  const dir = tmp();
  try {
    const m = model(5);
    const before = m.snapshot();
    train(m, prefTask(m), testConfig(dir, { selectedLayers: ['down_proj'] }), rawStore(m));
    const after = m.snapshot();
    assert.deepEqual(after[0], before[0]);
    assert.deepEqual(after[2], before[2]);
    assert.notDeepEqual(after[1], before[1]);
    const n = model(5);
    assert.throws(() => train(n, prefTask(n), testConfig(tmp(), { selectedLayers: ['up_proj'] }), rawStore(n)),
      /Expected names that match some parameters \(for example model\.embed_tokens\.weight.*\) for selected_layers but received \["up_proj"\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bf16 trains a bfloat16 model through fp32 master weights; an fp32 model with bf16 is refused', () => {
  const [d1, d2] = [tmp(), tmp()];
  try {
    const ref = model(6);
    train(ref, prefTask(ref), testConfig(d1, { learningRate: 0.01, numTrainEpochs: 3 }), rawStore(ref));
    const m = model(6, 0, 'bfloat16');
    const task: TrainingTask = { kind: 'preference', train: new PairSource(makePairs(8, 3), 8, false), reference: frozenReference(model(6)), loss: { lossType: 'bfpo', beta: 0.5 } };
    train(m, task, testConfig(d2, { learningRate: 0.01, numTrainEpochs: 3, bf16: true, saveStrategy: 'steps', saveSteps: 1 }), rawStore(m));
    assert.equal(m.params[0][1].dtype, 'bfloat16');
    const d = maxDiff(m.snapshot(), ref.snapshot());
    assert.ok(d < 0.03, `bf16 run stays near the fp32 run (max diff ${d})`);
    assert.ok(existsSync(join(d2, 'checkpoint-3', 'master_weights.bin')));
    const f = model(6);
    assert.throws(() => train(f, prefTask(f), testConfig(tmp(), { bf16: true }), rawStore(f)), /bf16 needs the model in bfloat16/);
  } finally {
    [d1, d2].forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
});

test('a NaN loss stops the run with a clear message and keeps the last good checkpoint', () => {
  const dir = tmp();
  try {
    const m = model(7);
    const forward = m.forward.bind(m);
    let calls = 0;
    m.forward = (ids: Tensor) => (++calls === 5 ? { logits: forward(ids).logits.mul(Number.NaN) } : forward(ids));
    assert.throws(() => train(m, prefTask(m, makePairs(8, 3), 1), testConfig(dir, { saveStrategy: 'steps', saveSteps: 2 }), rawStore(m)), (e: Error) =>
      e instanceof TrainingDivergedError && /The loss became NaN at optimizer step 5 \(epoch 0, batch 4\); training stopped\. The last good checkpoint is .*checkpoint-4\./.test(e.message));
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('checkpoint-')).sort(), ['checkpoint-2', 'checkpoint-4']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SFT trains with the same loop and lowers the loss', () => {
  const dir = tmp();
  try {
    const m = model(8);
    const r1 = train(m, { kind: 'sft', train: new SftSource(makePairs(8, 1), 4), eval: new SftSource(makePairs(8, 1), 4, false) },
      testConfig(dir, { numTrainEpochs: 10, evalStrategy: 'epoch', optim: 'rmsprop', learningRate: 0.01 }), rawStore(m));
    const evals = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'eval_loss' in l);
    assert.equal(evals.length, 10);
    assert.ok(evals[9].eval_loss < evals[0].eval_loss - 0.1, `${evals[0].eval_loss} -> ${evals[9].eval_loss}`);
    assert.equal(r1.globalStep, 20);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


test('the loop frees what it creates: live tensors after a run equal those before it', () => {
  const dir = tmp();
  try {
    const m = model(9, 0.1);
    const task = prefTask(m, makePairs(12, 5), 2, { buffer: new PairSource(makePairs(3, 2), 2), eval: new PairSource(makePairs(4, 3), 2) });
    const before = memoryStats().liveTensors;
    train(m, task, testConfig(dir, { numTrainEpochs: 2, gradientAccumulationSteps: 2, maxGradNorm: 1, evalStrategy: 'steps', evalSteps: 2, saveStrategy: 'steps', saveSteps: 2, reportTo: ['tensorboard'] }), rawStore(m));
    assert.equal(memoryStats().liveTensors, before);
    const b = model(9, 0, 'bfloat16');
    const before16 = memoryStats().liveTensors;
    train(b, { kind: 'sft', train: new SftSource(makePairs(8, 1), 4) }, testConfig(tmp(), { bf16: true, numTrainEpochs: 2 }), rawStore(b));
    assert.equal(memoryStats().liveTensors, before16);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('logging_first_step adds a log after step 1; the run name reaches train_results.json', () => {
  const dir = tmp();
  const m = model(10);
  const t0 = Date.now();
  train(m, prefTask(m, makePairs(8, 3), 1), testConfig(dir, { loggingSteps: 5, loggingFirstStep: true, runName: 'r1' }), rawStore(m));
  const elapsed = Date.now() - t0;
  const steps = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, [1, 5, 8]);
  const results = JSON.parse(readFileSync(join(dir, 'train_results.json'), 'utf8'));
  assert.equal(results.run_name, 'r1');
  // The training loop's time: positive, within the whole call's, and consistent with the rates written next to it.
  assert.ok(results.train_runtime > 0 && results.train_runtime * 1000 <= elapsed, `train_runtime ${results.train_runtime} s, call ${elapsed} ms`);
  assert.ok(Math.abs(results.train_steps_per_second * results.train_runtime - 8) < 1e-6, 'steps per second x runtime = 8 steps');
  assert.ok(results.train_tokens_per_second > 0);
});
