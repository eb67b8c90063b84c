// A run killed with SIGKILL at random moments (including inside checkpoint saves) resumes and ends with bitwise the
// same weights as an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prng } from './tiny.js';
import { type ChildExit, runChild } from './child-run.js';

const child = new URL('./kill-child.ts', import.meta.url);

/**
 * Runs the child; when `kill` is given, kills it `kill.delayMs` after it starts saving checkpoint `kill.step` (inside
 * the save or in the step after it). Resolves its exit.
 */
function run(dir: string, kill?: { step: number; delayMs: number }): Promise<ChildExit> {
  return runChild(child, [dir], (chunk, p) => {
    if (kill && new RegExp(`saving tmp-checkpoint-${kill.step}\\b`).test(chunk)) setTimeout(() => p.kill('SIGKILL'), kill.delayMs);
  });
}

test('SIGKILL at random moments, then resume: the final weights equal an uninterrupted run, bit for bit', { timeout: 120_000 }, async () => {
  const [clean, killed] = [mkdtempSync(join(tmpdir(), 'bfpo-clean-')), mkdtempSync(join(tmpdir(), 'bfpo-killed-'))];
  try {
    assert.equal((await run(clean)).code, 0);
    const rand = prng(2024);
    let kills = 0;
    // 18 optimizer steps in all; one kill in each third of the run, a random 0-25 ms after a save begins.
    for (const third of [0, 1, 2]) {
      const r = await run(killed, { step: 1 + third * 6 + Math.floor(rand() * 5), delayMs: Math.floor(rand() * 25) });
      assert.equal(r.signal, 'SIGKILL', 'the child was killed before it finished');
      kills += 1;
    }
    const last = await run(killed);
    assert.equal(last.code, 0, last.err);
    assert.equal(kills, 3);
    for (const f of ['model.bin', 'model.json']) {
      assert.ok(readFileSync(join(killed, f)).equals(readFileSync(join(clean, f))), `${f} is identical`);
    }
    assert.deepEqual(readdirSync(killed).filter((f) => f.startsWith('checkpoint-')).sort(), readdirSync(clean).filter((f) => f.startsWith('checkpoint-')).sort());
  } finally {
    [clean, killed].forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
});
