// Every Tensor op against PyTorch: values, dtypes, shapes and gradients from test/fixtures/tensor/ops.json
// (made by scripts/fixtures/torch_ops.py, which documents how each number was produced).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tidy } from 'bfpo';
import { fixture, runCase } from './op-cases.js';

describe(`Tensor ops against PyTorch ${fixture.torch}`, () => {
  for (const c of fixture.cases) {
    test(c.name, () => {
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
