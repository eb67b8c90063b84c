// Checkpoint folders: atomic naming, rotation, leftovers of interrupted saves, refusal of another run's folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertSameRun, configDifferences, lastCheckpoint, listCheckpoints, removeStaleFolders, saveCheckpoint, writeJson, CheckpointMismatchError,
} from '../../src/train/checkpoint.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-ckpt-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}
const writer = (dir: string) => { writeJson(join(dir, 'run_config.json'), { lr: 1 }); writeJson(join(dir, 'trainer_state.json'), {}); };

test('saves rotate to save_total_limit; only complete folders count; leftovers are removed', () => {
  withDir((out) => {
    for (const s of [1, 2, 3]) saveCheckpoint(out, s, writer, { totalLimit: 2 });
    assert.deepEqual(listCheckpoints(out).map((c) => c.step), [2, 3]);
    mkdirSync(join(out, 'checkpoint-9'));
    mkdirSync(join(out, 'tmp-checkpoint-4'));
    mkdirSync(join(out, 'trash-checkpoint-1'));
    assert.equal(lastCheckpoint(out), join(out, 'checkpoint-3'), 'a folder without trainer_state.json is not a checkpoint');
    removeStaleFolders(out);
    assert.deepEqual(readdirSync(out).sort(), ['checkpoint-2', 'checkpoint-3', 'checkpoint-9']);
    assert.throws(() => saveCheckpoint(out, 5, () => undefined), /must write trainer_state\.json/);
  });
});

test('another run\'s checkpoints are refused with the differing keys; a folder from another tool too', () => {
  withDir((out) => {
    const dir = saveCheckpoint(out, 1, writer);
    assert.doesNotThrow(() => assertSameRun(dir, { lr: 1 }));
    assert.throws(() => assertSameRun(dir, { lr: 2, seed: 3 }), (e: Error) => e instanceof CheckpointMismatchError &&
      /its configuration differs in lr: 1 there, 2 now; seed: null there, 3 now/.test(e.message));
    assert.doesNotThrow(() => assertSameRun(dir, { lr: 2 }, ['lr']));
    mkdirSync(join(out, 'checkpoint-7'));
    writeFileSync(join(out, 'checkpoint-7', 'trainer_state.json'), '{}');
    assert.throws(() => assertSameRun(join(out, 'checkpoint-7'), { lr: 1 }), /holds no run_config\.json, so it was not written by this trainer/);
    assert.deepEqual(configDifferences({ a: [1, 2] }, { a: [1, 2], b: null }), []);
    assert.ok(existsSync(dir));
  });
});
