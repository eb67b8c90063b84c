// Autograd plumbing: requiresGrad, leaves, backward with and without a gradient, accumulation, retainGraph,
// grad setter, detach, noGrad / enableGrad, inference mode. Values are small closed-form derivatives.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TorchError, enableGrad, inferenceMode, isGradEnabled, noGrad, ones, randn, tensor, tidy, zeros } from 'bfpo';
import { isInferenceMode } from 'bfpo/tensor';

describe('gradients', () => {
  test('requiresGrad, isLeaf and the gradient of a scalar', () => tidy(() => {
    const x = tensor([1, 2, 3], { dtype: 'float32' });
    assert.equal(x.requiresGrad, false);
    x.requiresGrad_();
    assert.equal(x.requiresGrad, true);
    assert.equal(x.isLeaf, true);
    const before = x.grad;
    assert.equal(before, null, 'no gradient before backward');
    const y = x.square().sum(); // d/dx = 2x
    assert.equal(y.requiresGrad, true);
    assert.equal(y.isLeaf, false);
    y.backward();
    assert.deepEqual(x.grad?.toArray(), [2, 4, 6]);
  }));

  test('backward with an explicit gradient for a non-scalar output', () => tidy(() => {
    const x = tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    x.mul(3).backward(tensor([1, -2], { dtype: 'float32' }));
    assert.deepEqual(x.grad?.toArray(), [3, -6]);
  }));

  test('gradients accumulate across backward calls, and retainGraph allows a second pass', () => tidy(() => {
    const x = tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assert.deepEqual(x.grad?.toArray(), [4, 8]);
  }));

  test('setting grad to null clears it; setting a tensor replaces it', () => tidy(() => {
    const x = ones([2], { requiresGrad: true });
    x.sum().backward();
    x.grad = null;
    assert.equal(x.grad, null);
    x.grad = tensor([5, 6], { dtype: 'float32' });
    assert.deepEqual(x.grad?.toArray(), [5, 6]);
    x.mul(2).sum().backward();
    assert.deepEqual(x.grad?.toArray(), [7, 8]);
  }));

  test('the grad getter returns a fresh handle on the same memory', () => tidy(() => {
    const x = ones([2], { requiresGrad: true });
    x.sum().backward();
    const g1 = x.grad;
    const g2 = x.grad;
    assert.notEqual(g1, g2);
    g1?.dispose();
    assert.deepEqual(g2?.toArray(), [1, 1], 'disposing one handle leaves the gradient alive');
    g2?.mul_(10);
    assert.deepEqual(x.grad?.toArray(), [10, 10]);
  }));

  test('requiresGrad = false through the setter stops recording', () => tidy(() => {
    const x = ones([2], { requiresGrad: true });
    x.requiresGrad = false;
    assert.equal(x.exp().requiresGrad, false);
  }));

  test('detach shares memory but leaves the graph', () => tidy(() => {
    const x = tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const d = x.detach();
    assert.equal(d.requiresGrad, false);
    const y = x.mul(d).sum(); // gradient flows through x only: d/dx = d = x
    y.backward();
    assert.deepEqual(x.grad?.toArray(), [1, 2]);
    d.mul_(0);
    assert.deepEqual(x.toArray(), [0, 0], 'same memory');
  }));

  test('a gradient through a shared subexpression adds up', () => tidy(() => {
    const x = tensor([2], { dtype: 'float32', requiresGrad: true });
    const a = x.exp();
    a.add(a.mul(x)).sum().backward(); // d/dx (e^x + x e^x) = e^x (2 + x)
    assert.ok(Math.abs((x.grad?.item() ?? 0) - Math.exp(2) * 4) < 1e-4);
  }));
});

describe('grad modes', () => {
  test('noGrad turns recording off and restores it, even when the function throws', () => tidy(() => {
    const x = randn([2], { requiresGrad: true });
    assert.equal(isGradEnabled(), true);
    const y = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      return x.mul(2);
    });
    assert.equal(y.requiresGrad, false);
    assert.equal(isGradEnabled(), true);
    assert.throws(() => noGrad(() => {
      throw new Error('inside');
    }), /inside/);
    assert.equal(isGradEnabled(), true);
  }));

  test('enableGrad inside noGrad records again', () => tidy(() => {
    const x = randn([2], { requiresGrad: true });
    const y = noGrad(() => enableGrad(() => x.mul(2)));
    assert.equal(y.requiresGrad, true);
    assert.equal(isGradEnabled(), true);
  }));

  test('inferenceMode turns recording off, nests, and its tensors cannot join autograd later', () => tidy(() => {
    const w = randn([2], { requiresGrad: true });
    assert.equal(isInferenceMode(), false);
    const y = inferenceMode(() => {
      assert.equal(isInferenceMode(), true);
      assert.equal(isGradEnabled(), false);
      inferenceMode(() => undefined);
      assert.equal(isInferenceMode(), true, 'still on after a nested scope ends');
      return w.mul(2);
    });
    assert.equal(isInferenceMode(), false);
    assert.equal(isGradEnabled(), true);
    assert.equal(y.requiresGrad, false);
    assert.deepEqual(y.toArray(), w.mul(2).toArray());
    assert.throws(() => y.mul(w).sum().backward(), TorchError);
  }));

  test('inferenceMode ends when the function throws', () => {
    assert.throws(() => inferenceMode(() => {
      throw new Error('inside');
    }), /inside/);
    assert.equal(isInferenceMode(), false);
  });

  test('an integer tensor never requires grad', () => tidy(() => {
    const i = zeros([2], { dtype: 'int64' });
    assert.equal(i.requiresGrad, false);
    i.requiresGrad_(false); // turning it off is allowed
  }));
});
