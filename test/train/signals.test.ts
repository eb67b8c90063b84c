// SIGINT/SIGTERM: the first signal finishes the step, writes a checkpoint and exits with 128 + the signal's number;
// a second one exits at once. Resuming afterwards ends with bitwise the weights of an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointProblem, listCheckpoints } from '../../src/train/checkpoint.js';
import { LOCK_FILE } from '../../src/train/lock.js';
import { prng } from './tiny.js';
import { type ChildExit, runChild } from './child-run.js';

const child = new URL('./signal-child.ts', import.meta.url);

/** Runs the child; sends `signals` (one after another, `gapMs` apart) once it has fetched `afterBatches` batches. */
function run(dir: string, send?: { afterBatches: number; signals: NodeJS.Signals[]; gapMs: number }): Promise<ChildExit> {
  let batches = 0;
  let sent = false;
  return runChild(child, [dir], (chunk, p) => {
    batches += (chunk.match(/^batch$/gm) ?? []).length;
    if (send && !sent && batches >= send.afterBatches) {
      sent = true;
      send.signals.forEach((s, i) => setTimeout(() => p.kill(s), i * send.gapMs));
    }
  });
}

test('SIGINT/SIGTERM stop after the step with a checkpoint; a second signal exits at once; resuming gives the same weights', { timeout: 300_000 }, async (t) => {
  const [clean, stopped] = [mkdtempSync(join(tmpdir(), 'bfpo-sig-clean-')), mkdtempSync(join(tmpdir(), 'bfpo-sig-')), ];
  try {
    assert.equal((await run(clean)).code, 0);
    const rand = prng(77);
    // 24 optimizer steps in all (12 batches of 2 per epoch, 2 epochs); checkpoints every 5 steps.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const r = await run(stopped, { afterBatches: 1 + Math.floor(rand() * 5), signals: [signal], gapMs: 0 });
      assert.equal(r.code, signal === 'SIGINT' ? 130 : 143, r.err);
      const m = /stopped (\w+) at (\d+) (\S+)/.exec(r.out);
      assert.ok(m, r.out);
      assert.equal(m[1], signal);
      assert.equal(m[3], join(stopped, `checkpoint-${m[2]}`), 'the checkpoint is of the step the signal finished');
      assert.equal(checkpointProblem(m[3]!), null);
      assert.match(r.err, /stopping after the current step/);
      assert.equal(existsSync(join(stopped, LOCK_FILE)), false, 'the lock is released');
    }
    // Two signals in a row, the second inside the checkpoint save the first started: the process exits at once,
    // leaving only complete checkpoints (the partial one is cleaned up by the next run).
    const twice = await run(stopped, { afterBatches: 2, signals: ['SIGTERM', 'SIGTERM'], gapMs: 40 });
    assert.equal(twice.code, 143);
    assert.match(twice.err, /second signal, exiting now/);
    for (const c of listCheckpoints(stopped)) assert.equal(checkpointProblem(c.dir), null);
    const last = await run(stopped);
    assert.equal(last.code, 0, last.err);
    for (const f of ['model.bin', 'model.json']) {
      assert.ok(readFileSync(join(stopped, f)).equals(readFileSync(join(clean, f))), `${f} is identical`);
    }
    t.diagnostic('signals: SIGINT once, SIGTERM once, SIGTERM twice; resumed run equals the uninterrupted one bit for bit');
  } finally {
    [clean, stopped].forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
});
