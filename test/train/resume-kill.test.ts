// A run killed with SIGKILL at random moments (including inside checkpoint saves) resumes and ends with bitwise the
// same weights as an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prng } from './tiny.js';

const child = fileURLToPath(new URL('./kill-child.ts', import.meta.url));

/**
 * Runs the child; when `kill` is given, kills it `kill.delayMs` after it starts saving checkpoint `kill.step` (inside
 * the save or in the step after it). Resolves its exit.
 */
function run(dir: string, kill?: { step: number; delayMs: number }): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--conditions=bfpo-source', '--import', 'tsx', child, dir], {
      stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BFPO_NUM_THREADS: '1' },
    });
    p.stdout.on('data', (d: Buffer) => {
      if (kill && new RegExp(`saving tmp-checkpoint-${kill.step}\\b`).test(d.toString())) setTimeout(() => p.kill('SIGKILL'), kill.delayMs);
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => resolve({ code, signal }));
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
    assert.equal((await run(killed)).code, 0);
    assert.equal(kills, 3);
    for (const f of ['model.bin', 'model.json']) {
      assert.ok(readFileSync(join(killed, f)).equals(readFileSync(join(clean, f))), `${f} is identical`);
    }
    assert.deepEqual(readdirSync(killed).filter((f) => f.startsWith('checkpoint-')).sort(), readdirSync(clean).filter((f) => f.startsWith('checkpoint-')).sort());
  } finally {
    [clean, killed].forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
});
