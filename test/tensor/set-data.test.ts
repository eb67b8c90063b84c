import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryStats, tensor, zeros } from 'bfpo';

test('setData_ swaps data, dtype and shape but keeps the object and its autograd flags', () => {
  const p = zeros([2, 2]).requiresGrad_();
  const src = tensor([[1, 2, 3]], { dtype: 'float64' });
  assert.equal(p.setData_(src), p);
  src.dispose();
  assert.deepEqual([p.dtype, p.shape, p.requiresGrad, p.isLeaf], ['float64', [1, 3], true, true]);
  assert.deepEqual(p.toArray(), [[1, 2, 3]]);
  const base = memoryStats().hostBytes;
  const small = zeros([1], { dtype: 'float32' });
  p.setData_(small);
  // p drops its 24 bytes and now shares small's 4-byte storage, which is counted once.
  assert.equal(memoryStats().hostBytes, base + 4 - 24, 'the handle reports its new size');
  small.dispose();
  p.dispose();
  assert.throws(() => p.setData_(zeros([1])), /setData\(<disposed tensor>/);
});
