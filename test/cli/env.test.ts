// bfpo --version and bfpo env: the installed version and a report of what this installation runs on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildInfo, getNumThreads } from 'bfpo';
import { main } from '../../src/cli/main.js';
import { envCommand, matmulSpeed } from '../../src/cli/env.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

test('bfpo --version prints the package version', async () => {
  const log = console.log;
  let out = '';
  console.log = (s: string) => { out += `${s}\n`; };
  try {
    await main(['--version']);
  } finally {
    console.log = log;
  }
  assert.equal(out, `${pkg.version}\n`);
});

test('bfpo env reports versions, libtorch, BLAS, CUDA, threads and matmul speeds', () => {
  const lines: string[] = [];
  envCommand((s) => lines.push(s));
  const text = lines.join('\n');
  assert.match(text, new RegExp(`^bfpo +${pkg.version.replace(/\./g, '\\.')} `, 'm'));
  assert.match(text, new RegExp(`^Node\\.js +${process.version.replace(/\./g, '\\.')} `, 'm'));
  assert.match(text, new RegExp(`^libtorch +${buildInfo().torchVersion.replace(/[.+]/g, '\\$&')} from `, 'm'));
  assert.match(text, /^BLAS +(openblas|mkl|blis|reference|unknown)$/m);
  assert.match(text, /^CUDA +(available|not available)/m);
  assert.match(text, new RegExp(`^threads +${getNumThreads()} `, 'm'));
  assert.match(text, new RegExp(`bfpo's own kernels: ${getNumThreads()};`), 'bfpo\'s kernels run on libtorch\'s threads');
  assert.match(text, /^matmul 256 +float32 [\d.]+ GFLOP\/s, bfloat16 [\d.]+ GFLOP\/s/m);
  assert.ok(matmulSpeed('float32', 64, 3) > 0);
});

test('bfpo env takes no arguments', async () => {
  const error = console.error;
  let err = '';
  console.error = (s: string) => { err += s; };
  const before = process.exitCode;
  try {
    await main(['env', '--x']);
    assert.equal(process.exitCode, 1);
  } finally {
    console.error = error;
    process.exitCode = before;
  }
  assert.match(err, /^bfpo: bfpo env takes no arguments but received --x/);
});
