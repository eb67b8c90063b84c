// `bfpo demo` argument parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDemoArgs } from '../../src/demo/args.js';

test('options in both spellings', () => {
  assert.deepEqual(parseDemoArgs([]), {});
  assert.deepEqual(parseDemoArgs(['--out', 'x', '--seed', '3', '--tiny']), { out: 'x', seed: 3, tiny: true });
  assert.deepEqual(parseDemoArgs(['--out=y', '--seed=0', '--threads=2']), { out: 'y', seed: 0, threads: 2 });
});

test('bad arguments name the argument', () => {
  assert.throws(() => parseDemoArgs(['--seed', '-1']), /Expected an integer >= 0 for --seed but received "-1"/);
  assert.throws(() => parseDemoArgs(['--seed=1.5']), /Expected an integer >= 0 for --seed but received "1.5"/);
  assert.throws(() => parseDemoArgs(['--threads', '0']), /Expected an integer >= 1 for --threads but received "0"/);
  assert.throws(() => parseDemoArgs(['--out']), /--out needs a value/);
  assert.throws(() => parseDemoArgs(['--out', '--tiny']), /--out needs a value/);
  assert.throws(() => parseDemoArgs(['--fast']), /Unknown argument "--fast"/);
  assert.throws(() => parseDemoArgs(['--tiny=1']), /Unknown argument "--tiny=1"/);
});
