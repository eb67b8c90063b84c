// The native addon loads at the first tensor op, not at import: without libtorch the pure parts of the package work
// and the first op explains what to install, naming the addon path it tried (BFPO_ADDON_PATH).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');

test('importing bfpo does not load the addon; the first tensor op throws the install advice', () => {
  const missing = join(root, 'test', 'fixtures', 'no-such-dir', 'bfpo.node');
  const r = spawnSync(process.execPath, [
    '--conditions=bfpo-source', '--import', 'tsx', join(root, 'test', 'tensor', 'lazy-child.ts'), join(root, 'recipes', 'tiny-cpu.yaml'),
  ], { cwd: root, encoding: 'utf8', env: { ...process.env, BFPO_ADDON_PATH: missing } });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { lossTypes: string[]; lossType: unknown; error: string; again: string };
  assert.ok(out.lossTypes.includes('bfpo'), `loss registry read without libtorch: ${out.lossTypes}`);
  assert.equal(out.lossType, 'bfpo', 'the recipe loaded without libtorch');
  assert.match(out.error, /^BfpoError: The bfpo native addon is not built \(no /);
  assert.ok(out.error.includes(missing), `the message names ${missing}: ${out.error}`);
  assert.match(out.error, /needs libtorch/);
  assert.match(out.error, /docs\/install\.md/);
  assert.ok(out.again.includes(missing), 'a later op throws the same advice');
});
