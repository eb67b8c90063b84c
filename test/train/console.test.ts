// What a training run prints: one compact line per logging step (preference and SFT), a line per checkpoint, and
// "already complete" without a new TensorBoard file when a finished run is started again; the same from trainAsync.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed } from '../../src/index.js';
import { train, trainAsync, type TrainResult } from '../../src/train/trainer.js';
import { frozenReference } from '../../src/train/reference.js';
import { TinyLM, PairSource, SftSource, makePairs } from './tiny.js';
import { rawStore } from './store.js';
import { testConfig } from './config.js';

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'bfpo-console-'));
  made.push(d);
  return d;
}

/** Runs `fn` with stderr captured. */
function captured(fn: () => TrainResult): { err: string; result: TrainResult } {
  const write = process.stderr.write.bind(process.stderr);
  let err = '';
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  try {
    const result = fn();
    return { err, result };
  } finally {
    process.stderr.write = write;
  }
}

/** The console's step lines parsed into their fields. */
function stepLines(err: string): Record<string, string>[] {
  return err.split('\n').filter((l) => l.startsWith('epoch ')).map((l) => Object.fromEntries(l.split(' | ').map((part) => {
    const m = /^(epoch|step|loss|acc|margin|lr|ETA) (\S+)$/.exec(part) ?? /^(\S+) (tok\/s)$/.exec(part);
    assert.ok(m, `an unknown field "${part}" in "${l}"`);
    return m[2] === 'tok/s' ? ['tok/s', m[1]] : [m[1], m[2]];
  })));
}

const logged = (dir: string) => readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('a preference run prints one line per logging step with accuracy and margin, and a line per checkpoint', () => {
  const dir = tmp();
  manualSeed(1);
  const m = new TinyLM(11, 8, 0, 'float32');
  const task = { kind: 'preference' as const, train: new PairSource(makePairs(8, 3), 2, false), reference: frozenReference(m.clone()), loss: { lossType: 'bfpo' as const, beta: 0.5 } };
  const { err } = captured(() => train(m, task, testConfig(dir, { console: 'lines', loggingSteps: 2, saveStrategy: 'steps', saveSteps: 2, reportTo: ['tensorboard'] }), rawStore(m)));
  const lines = stepLines(err);
  const log = logged(dir);
  assert.deepEqual(lines.map((l) => l.step), ['2/4', '4/4']);
  assert.deepEqual(Object.keys(lines[0]), ['epoch', 'step', 'loss', 'acc', 'margin', 'lr', 'tok/s', 'ETA']);
  for (const [i, l] of lines.entries()) {
    assert.equal(l.epoch, (log[i].epoch as number).toFixed(2));
    assert.equal(l.loss, log[i].loss.toFixed(4));
    assert.equal(l.acc, log[i]['rewards/accuracies'].toFixed(3));
    assert.equal(l.margin, log[i]['rewards/margins'].toFixed(4));
    assert.equal(l.lr, '5.00e-2');
    assert.equal(l['tok/s'], String(Math.round(log[i].tokens_per_second)));
  }
  assert.equal(lines[1].ETA, '0s');
  for (const step of [2, 4]) assert.ok(err.includes(`checkpoint saved: ${join(dir, `checkpoint-${step}`)} (step ${step})`), err);
  assert.doesNotMatch(err, /\x1b/, 'no escape codes off a terminal');
});

test('an SFT run prints the same line without the preference fields', () => {
  const dir = tmp();
  manualSeed(8);
  const m = new TinyLM(11, 8, 0, 'float32');
  const { err } = captured(() => train(m, { kind: 'sft', train: new SftSource(makePairs(8, 1), 4) }, testConfig(dir, { console: 'lines', numTrainEpochs: 2 }), rawStore(m)));
  const lines = stepLines(err);
  assert.deepEqual(lines.map((l) => l.step), ['1/4', '2/4', '3/4', '4/4']);
  assert.deepEqual(lines.map((l) => l.epoch), ['0.50', '1.00', '1.50', '2.00']);
  assert.deepEqual(Object.keys(lines[0]), ['epoch', 'step', 'loss', 'lr', 'tok/s', 'ETA']);
  assert.deepEqual(lines.map((l) => l.loss), logged(dir).map((l) => l.loss.toFixed(4)));
});

test('starting a finished run again says "already complete" and writes no TensorBoard file or log line', () => {
  const dir = tmp();
  const config = testConfig(dir, { console: 'lines', maxSteps: 2, reportTo: ['tensorboard'] });
  const run = () => {
    manualSeed(1);
    const m = new TinyLM(11, 8, 0, 'float32');
    return captured(() => train(m, { kind: 'sft', train: new SftSource(makePairs(8, 1), 4) }, config, rawStore(m)));
  };
  const first = run();
  const events = readdirSync(join(dir, 'runs'));
  const logLines = logged(dir).length;
  assert.doesNotMatch(first.err, /already complete/);
  const again = run();
  assert.match(again.err, new RegExp(`already complete: ${dir} finished at step 2 of 2`));
  assert.equal(again.result.alreadyComplete, true);
  assert.equal(again.result.globalStep, 2);
  assert.equal(again.result.lastLog.loss, first.result.lastLog.loss);
  assert.deepEqual(readdirSync(join(dir, 'runs')), events);
  assert.equal(logged(dir).length, logLines);
  assert.equal(stepLines(again.err).length, 0);
});

test('save_strategy no: a run ends without a checkpoint; a rerun is complete, a changed recipe trains afresh', () => {
  const dir = tmp();
  const run = (learningRate: number) => {
    manualSeed(1);
    const m = new TinyLM(11, 8, 0, 'float32');
    return captured(() => train(m, { kind: 'sft', train: new SftSource(makePairs(8, 1), 4) }, testConfig(dir, { console: 'lines', maxSteps: 2, learningRate }), rawStore(m)));
  };
  const first = run(0.05);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('checkpoint')), [], 'no checkpoint folder');
  assert.doesNotMatch(first.err, /checkpoint saved/);
  assert.equal(first.result.lastCheckpoint, null);
  assert.ok(readdirSync(dir).includes('model.bin'), 'the final model is written');
  const again = run(0.05);
  assert.match(again.err, new RegExp(`already complete: ${dir} finished at step 2 of 2 \\(save_strategy no: no checkpoint\\)`));
  assert.equal(again.result.alreadyComplete, true);
  assert.equal(again.result.globalStep, 2);
  assert.equal(again.result.lastLog.loss, first.result.lastLog.loss);
  const changed = run(0.01);
  assert.doesNotMatch(changed.err, /already complete/);
  assert.equal(changed.result.alreadyComplete, undefined);
  assert.deepEqual(stepLines(changed.err).map((l) => l.step), ['1/2', '2/2']);
  assert.equal(JSON.parse(readFileSync(join(dir, 'run_config.json'), 'utf8')).learning_rate, 0.01);
});

test('save_strategy no: a stopped run leaves a checkpoint; its resumption ends with one, so a rerun is complete', async () => {
  const dir = tmp();
  const config = testConfig(dir, { console: 'none', maxSteps: 4 });
  const run = async (stopAt: number | null) => {
    manualSeed(1);
    const m = new TinyLM(11, 8, 0, 'float32');
    const ac = new AbortController();
    const hooks = { signal: ac.signal, onLog: (x: { step: number }) => { if (x.step === stopAt) ac.abort(); } };
    return trainAsync(m, { kind: 'sft', train: new SftSource(makePairs(8, 1), 2) }, config, rawStore(m), hooks);
  };
  const stopped = await run(2);
  assert.equal(stopped.stoppedBy, 'abort');
  assert.equal(stopped.lastCheckpoint, join(dir, 'checkpoint-2'));
  assert.ok(!readdirSync(dir).includes('train_results.json'));
  const resumed = await run(null);
  assert.equal(resumed.resumedFrom, join(dir, 'checkpoint-2'));
  assert.equal(resumed.globalStep, 4);
  assert.equal(resumed.lastCheckpoint, join(dir, 'checkpoint-4'), 'the interrupted checkpoint is not left the newest');
  const again = await run(null);
  assert.equal(again.alreadyComplete, true);
  assert.equal(again.resumedFrom, join(dir, 'checkpoint-4'));
});

test('trainAsync prints the same step and checkpoint lines, and "already complete" on a finished run', async () => {
  const dir = tmp();
  const config = testConfig(dir, { console: 'lines', maxSteps: 2, saveStrategy: 'steps', saveSteps: 1, reportTo: ['tensorboard'] });
  const run = async (): Promise<{ err: string; result: TrainResult }> => {
    manualSeed(1);
    const m = new TinyLM(11, 8, 0, 'float32');
    const write = process.stderr.write.bind(process.stderr);
    let err = '';
    process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
    try {
      const result = await trainAsync(m, { kind: 'sft', train: new SftSource(makePairs(8, 1), 4) }, config, rawStore(m));
      return { err, result };
    } finally {
      process.stderr.write = write;
    }
  };
  const first = await run();
  assert.deepEqual(stepLines(first.err).map((l) => l.step), ['1/2', '2/2']);
  for (const step of [1, 2]) assert.ok(first.err.includes(`checkpoint saved: ${join(dir, `checkpoint-${step}`)} (step ${step})`), first.err);
  const events = readdirSync(join(dir, 'runs'));
  const again = await run();
  assert.match(again.err, new RegExp(`already complete: ${dir} finished at step 2 of 2`));
  assert.equal(again.result.alreadyComplete, true);
  assert.equal(stepLines(again.err).length, 0);
  assert.deepEqual(readdirSync(join(dir, 'runs')), events);
});
