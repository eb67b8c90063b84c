// trainFromRecipe on the tiny recipe: the event loop runs during training, the callbacks get log.jsonl's records and
// the checkpoint folders, and an aborted run resumes to the uninterrupted run's final weights.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRecipe, trainFromRecipe, type LogRecord } from '../../src/index.js';

const root = new URL('../../', import.meta.url).pathname;
const recipe = join(root, 'recipes/tiny-cpu.yaml');
const dir = mkdtempSync(join(tmpdir(), 'bfpo-api-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const overrides = (out: string) => [`--output_dir=${join(dir, out)}`, `--reference_cache_dir=${join(dir, 'cache')}`,
  `--tokenized_cache_dir=${join(dir, 'tokenized')}`, '--max_steps=6', '--save_steps=4', '--eval_steps=3', '--logging_steps=1',
  '--per_device_train_batch_size=4', '--report_to=none'];
const jsonl = (out: string): LogRecord[] => readFileSync(join(dir, out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('trainFromRecipe keeps the event loop running and hands its records and checkpoints to the callbacks', async () => {
  const logs: LogRecord[] = [];
  const evals: LogRecord[] = [];
  const saves: string[] = [];
  let ticks = 0;
  const timer = setInterval(() => { ticks += 1; }, 0);
  const r = await trainFromRecipe(recipe, {
    overrides: overrides('full'), onLog: (x) => logs.push(x), onEval: (x) => evals.push(x), onSave: (d) => saves.push(d),
  }).finally(() => clearInterval(timer));
  assert.ok(r);
  assert.equal(r.globalStep, 6);
  assert.equal(r.stoppedBy, null);
  assert.ok(ticks >= 6, `the timer fired ${ticks} times`);
  assert.deepEqual(logs.map((x) => x.step), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(evals.map((x) => x.step), [3, 6]);
  const lines = jsonl('full');
  assert.deepEqual(lines.filter((x) => 'loss' in x), JSON.parse(JSON.stringify(logs)));
  assert.deepEqual(lines.filter((x) => 'eval_loss' in x), JSON.parse(JSON.stringify(evals)));
  assert.equal(lines.length, logs.length + evals.length);
  assert.deepEqual(saves, [4, 6].map((s) => join(dir, 'full', `checkpoint-${s}`)));
});

test('an AbortSignal stops trainFromRecipe after a step with a checkpoint; a later call resumes to the same weights', async () => {
  const ac = new AbortController();
  const stopped = await trainFromRecipe(recipe, { overrides: overrides('part'), signal: ac.signal, onLog: (x) => { if (x.step === 2) ac.abort(); } });
  assert.ok(stopped);
  assert.equal(stopped.stoppedBy, 'abort');
  assert.equal(stopped.globalStep, 2);
  assert.equal(stopped.lastCheckpoint, join(dir, 'part', 'checkpoint-2'));
  assert.ok(!existsSync(join(dir, 'part', 'model.safetensors')), 'no final model after an abort');
  assert.equal(process.exitCode, undefined, 'an abort does not set the exit status');

  const resumed = await trainFromRecipe(loadRecipe(recipe), { overrides: overrides('part') });
  assert.ok(resumed);
  assert.equal(resumed.resumedFrom, join(dir, 'part', 'checkpoint-2'));
  assert.equal(resumed.globalStep, 6);
  const weights = (out: string) => readFileSync(join(dir, out, 'model.safetensors'));
  assert.ok(weights('part').equals(weights('full')), 'the resumed run ends with the uninterrupted run\'s weights');
});
