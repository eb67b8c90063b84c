// Runs survive faults: a disk that fills up during checkpoints or the final save, checkpoints damaged on disk, a
// second run into a folder in use and locks left by crashed runs. Each case resumes to the uninterrupted weights.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed } from '../../src/index.js';
import { train, type TrainerConfig } from '../../src/train/trainer.js';
import { frozenReference } from '../../src/train/reference.js';
import { checkpointProblem, listCheckpoints, CheckpointDamagedError, CheckpointWriteError } from '../../src/train/checkpoint.js';
import { lockOutputDir, LOCK_FILE, RunLockedError } from '../../src/train/lock.js';
import { TinyLM, PairSource, makePairs, prng } from './tiny.js';
import { rawStore } from './store.js';
import { testConfig } from './config.js';
import { limitDisk } from './disk-quota.js';

const made: string[] = [];
const tmp = (): string => { const d = mkdtempSync(join(tmpdir(), 'bfpo-fault-')); made.push(d); return d; };
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

const cfg = (dir: string, over: Partial<TrainerConfig> = {}): TrainerConfig => testConfig(dir, {
  numTrainEpochs: 3, saveStrategy: 'steps', saveSteps: 1, saveTotalLimit: 2, lrSchedulerType: 'cosine', warmupRatio: 0.2, ...over,
});

/** The tiny 12-step preference run; returns its result and final weights. */
function run(dir: string, over: Partial<TrainerConfig> = {}) {
  manualSeed(1);
  const m = new TinyLM(11, 8, 0.3);
  try {
    const task = { kind: 'preference' as const, train: new PairSource(makePairs(12, 7), 3, false), reference: frozenReference(m.clone()), loss: { lossType: 'bfpo' as const, beta: 0.5 } };
    const r = train(m, task, cfg(dir, over), rawStore(m));
    return { r, weights: m.snapshot() };
  } finally {
    m.dispose();
  }
}

let cleanWeights: number[][] | null = null;
const clean = (): number[][] => (cleanWeights ??= run(tmp()).weights);

test('disk full at random moments of checkpoints and the final save: earlier checkpoints stay intact, resuming ends with the uninterrupted weights', (t) => {
  const probe = tmp();
  const q = limitDisk(probe, Number.MAX_SAFE_INTEGER);
  try { run(probe); } finally { q.restore(); }
  const total = q.used();
  const rand = prng(5);
  const seen = { checkpoint: 0, final: 0, other: 0 };
  const cases = 16;
  for (let i = 0; i < cases; i++) {
    const dir = tmp();
    const budget = Math.floor(rand() * total);
    const quota = limitDisk(dir, budget);
    let error: unknown = null;
    try { run(dir); } catch (e) { error = e; } finally { quota.restore(); }
    assert.ok(error, `budget ${budget} of ${total} bytes: the run failed`);
    const err = error as NodeJS.ErrnoException;
    if (err instanceof CheckpointWriteError) {
      const isFinal = /final model/.test(err.message);
      seen[isFinal ? 'final' : 'checkpoint'] += 1;
      assert.match(err.message, /no space left on device/);
      assert.match(err.message, /Free disk space|free disk space/);
      if (listCheckpoints(dir).length > 0) assert.match(err.message, /is intact/);
    } else {
      assert.equal(err.code, 'ENOSPC', `an unexpected error: ${err.message}`);
      seen.other += 1;
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('tmp-checkpoint-')), [], 'the partial checkpoint was removed');
    for (const c of listCheckpoints(dir)) assert.equal(checkpointProblem(c.dir), null, `${c.dir} is intact`);
    const resumed = run(dir);
    assert.deepEqual(resumed.weights, clean(), `budget ${budget}: resuming gives the uninterrupted weights`);
  }
  assert.ok(seen.checkpoint > 0 && seen.final + seen.other + seen.checkpoint === cases);
  t.diagnostic(`disk full: ${cases} budgets in [0, ${total}) bytes; failed in a checkpoint ${seen.checkpoint}, in the final save ${seen.final}, elsewhere (run_config, lock) ${seen.other}`);
});

test('disk full while writing the final model names the last checkpoint and the rerun writes it', () => {
  const dir = tmp();
  manualSeed(1);
  const m = new TinyLM(11, 8, 0.3);
  const store = rawStore(m);
  let failFinal = true;
  const faulty = { ...store, saveFinal: (d: string) => {
    if (failFinal) { failFinal = false; const e = new Error(`ENOSPC: no space left on device, write '${d}/model.bin'`) as NodeJS.ErrnoException; e.code = 'ENOSPC'; throw e; }
    store.save(d);
  } };
  const task = () => ({ kind: 'preference' as const, train: new PairSource(makePairs(12, 7), 3, false), reference: frozenReference(m.clone()), loss: { lossType: 'bfpo' as const, beta: 0.5 } });
  assert.throws(() => train(m, task(), cfg(dir), faulty), (e: Error) => e instanceof CheckpointWriteError &&
    /final model/.test(e.message) && e.message.includes(join(dir, 'checkpoint-12')) && /is intact/.test(e.message));
  assert.equal(existsSync(join(dir, 'model.bin')), false);
  const r = train(m, task(), cfg(dir), faulty);
  assert.equal(r.globalStep, 12);
  assert.ok(existsSync(join(dir, 'model.bin')));
  m.dispose();
});

/** Damages `file` as `how` says. */
function damage(file: string, how: 'truncate' | 'flip' | 'delete' | 'append' | 'garbage'): void {
  if (how === 'delete') rmSync(file);
  else if (how === 'truncate') truncateSync(file, Math.floor(statSync(file).size / 2));
  else if (how === 'append') appendFileSync(file, 'x');
  else if (how === 'garbage') writeFileSync(file, '{"global_step": 8, "posi');
  else { const b = readFileSync(file); b[Math.floor(b.length / 2)] ^= 0x01; writeFileSync(file, b); }
}

test('a truncated, altered or missing checkpoint file is detected; the run falls back to the previous checkpoint and ends the same', (t) => {
  const base = tmp();
  run(base, { saveTotalLimit: null });
  for (const s of [9, 10, 11, 12]) rmSync(join(base, `checkpoint-${s}`), { recursive: true });
  for (const f of readdirSync(base)) if (!f.startsWith('checkpoint-')) rmSync(join(base, f), { recursive: true });
  const files = readdirSync(join(base, 'checkpoint-8'), { recursive: true }).map(String).filter((f) => statSync(join(base, 'checkpoint-8', f)).isFile() && f !== 'trainer_state.json');
  const cases: [string, Parameters<typeof damage>[1]][] = [
    ...files.flatMap((f) => (['truncate', 'flip', 'delete', 'append'] as const).map((h) => [f, h] as [string, Parameters<typeof damage>[1]])),
    ['trainer_state.json', 'garbage'], ['trainer_state.json', 'truncate'],
  ];
  for (const [file, how] of cases) {
    const dir = tmp();
    cpSync(base, dir, { recursive: true });
    damage(join(dir, 'checkpoint-8', file), how);
    assert.notEqual(checkpointProblem(join(dir, 'checkpoint-8')), null, `${how} ${file} is detected`);
    const { r, weights } = run(dir);
    assert.equal(r.resumedFrom, join(dir, 'checkpoint-7'), `${how} ${file}: falls back`);
    assert.ok(r.notes.some((n) => n.includes('checkpoint-8 is damaged')), r.notes.join('\n'));
    assert.ok(r.notes.some((n) => /falling back to .*checkpoint-7/.test(n)));
    assert.deepEqual(weights, clean(), `${how} ${file}: the same final weights`);
  }
  t.diagnostic(`corruption: ${cases.length} cases (${files.length} files x truncate/flip/delete/append, trainer state garbage/truncated), all detected and recovered`);

  const all = tmp();
  cpSync(base, all, { recursive: true });
  for (const c of listCheckpoints(all)) damage(join(c.dir, 'rng_state.bin'), 'flip');
  assert.throws(() => run(all), (e: Error) => e instanceof CheckpointDamagedError && /Every checkpoint/.test(e.message));
  const explicit = tmp();
  cpSync(base, explicit, { recursive: true });
  damage(join(explicit, 'checkpoint-8', files[0]!), 'flip');
  assert.throws(() => run(explicit, { resumeFromCheckpoint: join(explicit, 'checkpoint-8') }), (e: Error) => e instanceof CheckpointDamagedError && /checkpoint-8 is damaged/.test(e.message));
});

test('one run per output folder: a live run\'s folder is refused; a crashed run\'s lock is taken over', () => {
  const dir = tmp();
  const lock = lockOutputDir(dir);
  assert.throws(() => lockOutputDir(dir), (e: Error) => e instanceof RunLockedError && new RegExp(`pid ${process.pid}`).test(e.message));
  assert.throws(() => run(dir), RunLockedError);
  assert.ok(existsSync(join(dir, LOCK_FILE)), 'the refused run leaves the lock alone');
  lock.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);

  // A run that ended without removing its lock (its pid is gone), one whose pid was reused, an unreadable one.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const stale = [
    { pid: Number(gone.stdout), host: hostname(), start: '1', since: 'earlier' },
    { pid: process.pid, host: hostname(), start: '0', since: 'earlier' },
  ];
  for (const body of [...stale.map((s) => JSON.stringify(s)), '{"pid": 12', '']) {
    writeFileSync(join(dir, LOCK_FILE), body);
    const notes: string[] = [];
    const l = lockOutputDir(dir, (n) => notes.push(n));
    assert.equal(notes.length, 1, `${body}: ${notes}`);
    assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
    l.release();
  }
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', start: null, since: 'earlier' }));
  assert.throws(() => lockOutputDir(dir), (e: Error) => e instanceof RunLockedError && /host elsewhere/.test(e.message) && e.message.includes(LOCK_FILE));
  rmSync(join(dir, LOCK_FILE));

  // A training run holds the lock while it runs and removes it at the end, also when it fails.
  const r = run(dir, { maxSteps: 2 });
  assert.equal(r.r.globalStep, 2);
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
});
