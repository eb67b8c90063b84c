// Every Tensor op against PyTorch: values, dtypes, shapes and gradients from test/fixtures/tensor/ops.json
// (made by scripts/fixtures/torch_ops.py, which documents how each number was produced).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tidy } from 'bfpo';
import { buildInfo } from 'bfpo/tensor';
import { fixture, runCase } from './op-cases.js';

/**
 * Cases whose PyTorch 1.13 result is not what libtorch 2.x computes (the kernel changed, not bfpo): they are checked
 * when the addon runs on the fixture's major version and skipped, with the reason, on another.
 */
const CHANGED_IN_2X: Record<string, string> = {
  'silu float16': 'libtorch 2.x has a float16 CPU SiLU kernel (1.13 refuses the dtype)',
  'gelu tanh bfloat16': 'libtorch 2.x computes the bfloat16 tanh GELU in float32 and rounds once (1.13 underflows one value to -0)',
};
const major = (v: string) => v.split('.')[0];
const running = buildInfo().torchVersion;

describe(`Tensor ops against PyTorch ${fixture.torch}`, () => {
  for (const c of fixture.cases) {
    const changed = major(running) !== major(fixture.torch) ? CHANGED_IN_2X[c.name] : undefined;
    test(c.name, changed ? { skip: `libtorch ${running}: ${changed}` } : {}, () => {
      tidy(() => runCase(c));
    });
  }
});

test('the fixture covers every Tensor method', () => {
  const covered = new Set(fixture.cases.map((c) => c.op));
  // Methods checked elsewhere (metadata, reading back, autograd plumbing, devices) or aliases of covered ones.
  const elsewhere = new Set([
    'constructor', 'handle', 'shape', 'dtype', 'device', 'ndim', 'dim', 'size', 'numel', 'isDisposed', 'isContiguous',
    'dispose', 'toString', 'item', 'toBuffer', 'toTypedArray', 'toArray', 'cpu', 'cuda', 'requiresGrad',
    'requiresGrad_', 'isLeaf', 'grad', 'backward', 'detach', 'setData_', // set-data.test.ts
  ]);
  const names = Object.getOwnPropertyNames(Tensor.prototype).filter((n) => !elsewhere.has(n));
  const missing = names.filter((n) => !covered.has(n));
  assert.deepEqual(missing, []);
});
