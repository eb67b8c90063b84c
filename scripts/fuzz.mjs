#!/usr/bin/env node
// The long fuzz run: every *-fuzz test file with many more seeded cases than the suite uses
// (BFPO_FUZZ_ITERATIONS, default 20000).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const iterations = process.env.BFPO_FUZZ_ITERATIONS ?? '20000';
const r = spawnSync(process.execPath, [join(root, 'scripts', 'run-tests.mjs'), '-fuzz.test.ts'], {
  cwd: root, stdio: 'inherit', env: { ...process.env, BFPO_FUZZ_ITERATIONS: iterations },
});
process.exit(r.status ?? 1);
