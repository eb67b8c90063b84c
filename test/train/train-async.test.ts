// trainAsync and the training hooks: the event loop runs between steps and while checkpoints are written, callbacks
// get log.jsonl's records and the checkpoint folders, and an AbortSignal stops at a step boundary that resumes exactly.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed } from '../../src/index.js';
import { writeFilesAsync } from '../../src/io/atomic.js';
import { tensorFiles } from '../../src/train/tensor-store.js';
import { train, trainAsync, type LogRecord, type TrainingTask } from '../../src/train/trainer.js';
import { CheckpointWriteError } from '../../src/train/checkpoint.js';
import { frozenReference } from '../../src/train/reference.js';
import { TinyLM, PairSource, makePairs } from './tiny.js';
import { rawStore } from './store.js';
import { testConfig } from './config.js';

const made: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'bfpo-async-'));
  made.push(d);
  return d;
}
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function model(): TinyLM {
  manualSeed(1);
  return new TinyLM(11, 8, 0.3);
}
function task(m: TinyLM): TrainingTask {
  return { kind: 'preference', train: new PairSource(makePairs(12, 7), 3), eval: new PairSource(makePairs(6, 8), 3, false), reference: frozenReference(m.clone()), loss: { lossType: 'bfpo', beta: 0.5 } };
}
const config = (dir: string) => testConfig(dir, {
  numTrainEpochs: 5, saveStrategy: 'steps', saveSteps: 4, loggingSteps: 3, evalStrategy: 'steps', evalSteps: 5, lrSchedulerType: 'cosine',
});
const jsonl = (dir: string): LogRecord[] => readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('a timer keeps firing while trainAsync runs 20 steps; the synchronous train blocks it', async () => {
  const ticks = async (run: () => Promise<unknown> | unknown): Promise<number> => {
    let n = 0;
    const timer = setInterval(() => { n += 1; }, 0);
    try {
      await run();
    } finally {
      clearInterval(timer);
    }
    return n;
  };
  const a = model();
  const dirA = tmp();
  const asyncTicks = await ticks(() => trainAsync(a, task(a), config(dirA), rawStore(a)));
  const b = model();
  const dirB = tmp();
  const syncTicks = await ticks(() => train(b, task(b), config(dirB), rawStore(b)));
  assert.ok(asyncTicks >= 10, `the timer fired ${asyncTicks} times during 20 asynchronous steps`);
  assert.equal(syncTicks, 0, 'the synchronous loop holds the event loop');
  assert.deepEqual(a.snapshot(), b.snapshot(), 'both loops train the same weights');
  assert.deepEqual(jsonl(dirA).map((r) => r.step), jsonl(dirB).map((r) => r.step));
});

test('onLog, onEval and onSave receive the records of log.jsonl and the checkpoint folders', async () => {
  const dir = tmp();
  const m = model();
  const logs: LogRecord[] = [];
  const evals: LogRecord[] = [];
  const saves: string[] = [];
  const r = await trainAsync(m, task(m), config(dir), rawStore(m), {
    onLog: (x) => logs.push(x), onEval: (x) => evals.push(x), onSave: (d) => saves.push(d),
  });
  assert.equal(r.globalStep, 20);
  const lines = jsonl(dir);
  assert.deepEqual(logs.map((x) => x.step), [3, 6, 9, 12, 15, 18, 20]);
  assert.deepEqual(evals.map((x) => x.step), [5, 10, 15, 20]);
  assert.ok(evals.every((x) => typeof x.eval_loss === 'number') && logs.every((x) => typeof x.loss === 'number'));
  assert.deepEqual(lines.filter((x) => 'loss' in x), JSON.parse(JSON.stringify(logs)));
  assert.deepEqual(lines.filter((x) => 'eval_loss' in x), JSON.parse(JSON.stringify(evals)));
  assert.equal(lines.length, logs.length + evals.length);
  assert.deepEqual(saves, [4, 8, 12, 16, 20].map((s) => join(dir, `checkpoint-${s}`)));
});

test('an aborted run stops at the step boundary with a checkpoint; calling again ends with the uninterrupted weights', async () => {
  const [full, part] = [tmp(), tmp()];
  const a = model();
  await trainAsync(a, task(a), config(full), rawStore(a));

  const ac = new AbortController();
  const b = model();
  const r = await trainAsync(b, task(b), config(part), rawStore(b), { signal: ac.signal, onLog: (x) => { if (x.step === 6) ac.abort(); } });
  assert.equal(r.stoppedBy, 'abort');
  assert.equal(r.globalStep, 6);
  assert.equal(r.lastCheckpoint, join(part, 'checkpoint-6'));
  assert.ok(existsSync(join(part, 'checkpoint-6', 'trainer_state.json')));
  assert.ok(!readdirSync(part).includes('checkpoint-8'), 'nothing ran after the abort');

  const c = model();
  const again = await trainAsync(c, task(c), config(part), rawStore(c), { signal: new AbortController().signal });
  assert.equal(again.resumedFrom, join(part, 'checkpoint-6'));
  assert.equal(again.stoppedBy, null);
  assert.equal(again.globalStep, 20);
  assert.deepEqual(c.snapshot(), a.snapshot());
});

/** Every file under `dir` (relative path -> bytes), leaving out the logs whose throughput figures differ per run. */
function tree(dir: string, under = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(join(dir, under)).sort()) {
    const rel = join(under, name);
    if (statSync(join(dir, rel)).isDirectory()) for (const [k, v] of tree(dir, rel)) out.set(k, v);
    else if (name !== 'log.jsonl' && name !== 'train_results.json') out.set(rel, readFileSync(join(dir, rel)));
  }
  return out;
}

test('trainAsync writes checkpoints and the final model through the store\'s saveAsync, with the bytes train writes', async () => {
  const a = model();
  const dirA = tmp();
  train(a, task(a), config(dirA), rawStore(a));

  const b = model();
  const dirB = tmp();
  let turns = 0;
  let on = true;
  const turn = (): void => { if (on) { turns += 1; setImmediate(turn); } };
  setImmediate(turn);
  let startedAt = -1;
  const perCheckpoint: number[] = [];
  const store = {
    ...rawStore(b),
    save: () => { throw new Error('trainAsync used the synchronous save'); },
    saveAsync: async (dir: string) => {
      startedAt = turns;
      await writeFilesAsync(tensorFiles(join(dir, 'model'), new Map(b.namedParameters())));
    },
  };
  try {
    await trainAsync(b, task(b), config(dirB), store, { onSave: () => perCheckpoint.push(turns - startedAt) });
  } finally {
    on = false;
  }
  assert.deepEqual(b.snapshot(), a.snapshot());
  const want = tree(dirA);
  assert.ok(want.has(join('checkpoint-20', 'optimizer-tensors.bin')) && want.has('model.bin'), [...want.keys()].join(' '));
  assert.deepEqual(tree(dirB), want, 'every checkpoint file and the final model have the same bytes');
  // Each checkpoint writes 8 files (model, optimizer, rng, run config, trainer state), each with at least 5 awaited
  // operations (open, write, sync, close, rename), and reads 7 back for checksums: the event loop turns after each.
  assert.equal(perCheckpoint.length, 5);
  assert.ok(perCheckpoint.every((n) => n >= 40), `event-loop turns while each checkpoint was written: ${perCheckpoint.join(', ')}`);
});

test('a failing asynchronous checkpoint write stops trainAsync with the intact checkpoint named; the rerun ends the same', async () => {
  const full = tmp();
  const a = model();
  await trainAsync(a, task(a), config(full), rawStore(a));

  const dir = tmp();
  const b = model();
  const store = {
    ...rawStore(b),
    saveAsync: async (d: string) => {
      if (d.endsWith('tmp-checkpoint-8')) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      await writeFilesAsync(tensorFiles(join(d, 'model'), new Map(b.namedParameters())));
    },
  };
  await assert.rejects(trainAsync(b, task(b), config(dir), store),
    (e: Error) => e instanceof CheckpointWriteError && e.message.includes(`The previous checkpoint ${join(dir, 'checkpoint-4')} is intact`) && /Free disk space/.test(e.message));
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('checkpoint')), ['checkpoint-4'], 'the partial checkpoint was removed');
  const c = model();
  const again = await trainAsync(c, task(c), config(dir), rawStore(c));
  assert.equal(again.resumedFrom, join(dir, 'checkpoint-4'));
  assert.deepEqual(c.snapshot(), a.snapshot());
});
