// profileOps: libtorch's operator profiler around a function, summed by operator as self time (nested calls subtracted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randn, tidy } from '../../src/index.js';
import { profileOps, selfTimes } from '../../src/tensor/profile.js';

test('self time subtracts nested calls on the same thread and sums calls by name', () => {
  const ops = selfTimes([
    { name: 'aten::matmul', ph: 'X', ts: 0, dur: 1000, tid: 1 },
    { name: 'aten::mm', ph: 'X', ts: 100, dur: 700, tid: 1 },
    { name: 'aten::mm', ph: 'X', ts: 2000, dur: 500, tid: 1 },
    { name: 'aten::mm', ph: 'X', ts: 0, dur: 300, tid: 2 },
    { name: 'marker', ph: 'i', ts: 0, dur: 0, tid: 1 },
  ]);
  assert.deepEqual(ops, [{ name: 'aten::mm', calls: 3, selfMs: 1.5 }, { name: 'aten::matmul', calls: 1, selfMs: 0.3 }]);
});

test('profileOps records forward and backward operators and returns the function\'s result', () => {
  const a = randn([64, 64]).requiresGrad_(true);
  const { result, ops, wallMs } = profileOps(() => tidy(() => { a.matmul(a).softmax(-1).sum().backward(); return 7; }));
  assert.equal(result, 7);
  assert.ok(wallMs > 0);
  const names = ops.map((o) => o.name);
  for (const n of ['aten::mm', 'aten::_softmax', 'aten::_softmax_backward_data']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  assert.ok(ops.find((o) => o.name === 'aten::mm')!.calls >= 3, 'one forward and two backward products');
  a.grad?.dispose();
  a.dispose();
  assert.throws(() => profileOps(() => profileOps(() => 0)), /already being recorded/);
});
