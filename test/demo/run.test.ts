// The tiny demo end to end: every phase runs, the report is written, and the same seed gives the same numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../../src/demo/run.js';

const root = mkdtempSync(join(tmpdir(), 'bfpo-demo-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

test('the tiny demo runs every phase and writes the report; the same seed repeats its numbers', async () => {
  const lines: string[] = [];
  const out = join(root, 'a');
  const first = await runDemo({ tiny: true, out, seed: 5, log: (l) => lines.push(l) });
  assert.deepEqual(first.phases.map((p) => p.phase), ['world', 'tokenizer', 'sft', 'dpo', 'ipo', 'bfpo', 'eval']);
  assert.deepEqual(first.scores.map((s) => s.name), ['sft', 'dpo', 'ipo', 'bfpo']);
  for (const s of first.scores) {
    for (const v of [s.harmlessness, s.accuracy, s.overRefusal, s.helpfulness]) assert.ok(v !== null && v >= 0 && v <= 1, JSON.stringify(s));
  }
  for (const f of ['summary.md', 'summary.json', 'data/preferences.jsonl', 'tokenizer/tokenizer.json', 'recipes/bfpo.yaml',
    'models/bfpo/config.json', 'models/bfpo/tokenizer.json', 'report/generations.jsonl', 'report/harmlessness-helpfulness.png']) {
    assert.ok(existsSync(join(out, f)), `missing ${f}`);
  }
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /\| bfpo \| /);
  assert.ok(lines.some((l) => /\[demo 7\/7\] eval done in/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /bfpo demo finished in/.test(l)));

  // Same seed into the same folder: the earlier demo is replaced and the numbers repeat.
  const again = await runDemo({ tiny: true, out, seed: 5, log: () => {} });
  assert.deepEqual(again.scores, first.scores);
});

test('a non-empty folder that holds no earlier demo is refused', async () => {
  const out = join(root, 'other');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'keep.txt'), 'mine');
  await assert.rejects(runDemo({ tiny: true, out, log: () => {} }), /The demo output folder .* is not empty and holds no earlier demo \(demo.json\); choose another --out/);
  assert.ok(existsSync(join(out, 'keep.txt')));
  await assert.rejects(runDemo({ tiny: true, out: join(root, 'x'), seed: -1, log: () => {} }), /Expected a non-negative integer for seed but received -1/);
});
