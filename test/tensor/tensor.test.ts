// Tensor metadata, creation options that the op fixture cannot express (uninitialised memory, requiresGrad),
// and the process-wide runtime settings (threads, build info, BLAS detection).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import {
  buildInfo, detectBlas, empty, full, getNumThreads, ones, randn, setNumThreads, tensor, tidy, zeros,
} from 'bfpo';
import { emptyLike } from 'bfpo/tensor';

describe('metadata', () => {
  test('shape, ndim, dim, size, numel', () => tidy(() => {
    const t = zeros([2, 3, 4]);
    assert.deepEqual(t.shape, [2, 3, 4]);
    t.shape.push(9); // a copy: changing it does not change the tensor
    assert.deepEqual(t.shape, [2, 3, 4]);
    assert.equal(t.ndim, 3);
    assert.equal(t.dim(), 3);
    assert.deepEqual(t.size(), [2, 3, 4]);
    assert.equal(t.size(-1), 4);
    assert.equal(t.size(0), 2);
    assert.equal(t.numel(), 24);
    assert.equal(tensor(1.5).ndim, 0);
    assert.equal(tensor(1.5).numel(), 1);
  }));

  test('isContiguous and contiguous()', () => tidy(() => {
    const t = randn([3, 4]);
    assert.equal(t.isContiguous(), true);
    const tt = t.t();
    assert.equal(tt.isContiguous(), false);
    assert.equal(tt.contiguous().isContiguous(), true);
  }));

  test('toString names dtype, shape and a non-cpu device', () => tidy(() => {
    assert.equal(String(zeros([2, 3], { dtype: 'bfloat16' })), 'Tensor(bfloat16[2, 3])');
    assert.equal(String(tensor(1)), 'Tensor(int64[])');
  }));
});

describe('creation options', () => {
  test('empty and emptyLike give the shape and dtype asked for', () => tidy(() => {
    const e = empty([2, 5], { dtype: 'int32' });
    assert.deepEqual(e.shape, [2, 5]);
    assert.equal(e.dtype, 'int32');
    const l = emptyLike(ones([3], { dtype: 'float16' }));
    assert.deepEqual(l.shape, [3]);
    assert.equal(l.dtype, 'float16');
    assert.equal(empty([0]).numel(), 0);
  }));

  test('requiresGrad option makes a leaf that records', () => tidy(() => {
    for (const t of [zeros([2], { requiresGrad: true }), randn([2], { requiresGrad: true }), full([2], 3, { requiresGrad: true }),
      tensor([1.5], { requiresGrad: true })]) {
      assert.equal(t.requiresGrad, true);
      assert.equal(t.isLeaf, true);
    }
  }));

  test('full uses float32 for numbers unless a dtype is given (JS cannot tell 1 from 1.0)', () => tidy(() => {
    assert.equal(full([1], 1).dtype, 'float32');
    assert.equal(full([1], true).dtype, 'bool');
    assert.equal(full([1], 1, { dtype: 'int32' }).dtype, 'int32');
  }));
});

describe('runtime', () => {
  test('uses every core by default, or BFPO_NUM_THREADS', () => {
    const want = Number(process.env.BFPO_NUM_THREADS) || availableParallelism();
    assert.equal(getNumThreads(), want);
  });

  test('setNumThreads changes the intra-op thread count', () => {
    const before = getNumThreads();
    setNumThreads(1);
    assert.equal(getNumThreads(), 1);
    setNumThreads(before);
    assert.equal(getNumThreads(), before);
  });

  test('buildInfo names the libtorch version, and detectBlas gives a known answer', () => {
    const info = buildInfo();
    assert.match(info.torchVersion, /^\d+\.\d+/);
    assert.ok(info.config.length > 0);
    assert.ok(['openblas', 'mkl', 'blis', 'reference', 'unknown'].includes(detectBlas()));
  });
});
