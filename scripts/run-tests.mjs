#!/usr/bin/env node
// Runs the test suite with Node's test runner (TypeScript through tsx). Arguments filter test files by substring.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('--'));

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const files = walk(join(root, 'test')).map((f) => relative(root, f)).sort()
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`No test files match ${filters.join(', ')}`);
  process.exit(1);
}
const args = ['--conditions=bfpo-source', '--import', 'tsx', '--test', '--test-concurrency=1', ...passThrough, ...files];
// The caches that default to $XDG_CACHE_HOME (tokenized data, reference log-probs) go to a folder of this run.
// bf16: auto means float32 in tests (BFPO_BF16_AUTO), so that results do not depend on the CPU's bfloat16 speed;
// the probe's own tests unset it.
const cache = mkdtempSync(join(tmpdir(), 'bfpo-test-cache-'));
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, BFPO_TEST: '1', XDG_CACHE_HOME: cache, BFPO_BF16_AUTO: process.env.BFPO_BF16_AUTO ?? 'float32' } });
rmSync(cache, { recursive: true, force: true });
process.exit(r.status ?? 1);
