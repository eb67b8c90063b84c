import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cat, manualSeed, randn, tensor, tidy, TorchError } from 'bfpo';
import { applyRotaryEmbedding, scaledDotProductAttention } from 'bfpo/tensor';

test('applyRotaryEmbedding equals x * cos + rotate_half(x) * sin composed from basic ops', () => {
  tidy(() => {
    manualSeed(0);
    const x = randn([2, 3, 5, 8]);
    const cos = randn([2, 1, 5, 8]);
    const sin = randn([2, 1, 5, 8]);
    const rotated = cat([x.narrow(-1, 4, 4).neg(), x.narrow(-1, 0, 4)], -1);
    const ref = x.mul(cos).add(rotated.mul(sin));
    assert.ok(applyRotaryEmbedding(x, cos, sin).sub(ref).abs().max().item() < 1e-6);
  });
});

test('scaledDotProductAttention with grouped heads and a mask equals the composed formula', () => {
  tidy(() => {
    manualSeed(1);
    const [b, nh, nkv, s, t, hd] = [2, 4, 2, 3, 5, 6];
    const q = randn([b, nh, s, hd]);
    const k = randn([b, nkv, t, hd]);
    const v = randn([b, nkv, t, hd]);
    const blocked = randn([b, 1, s, t]).gt(0.5);
    const out = scaledDotProductAttention(q, k, v, { blocked, scale: 0.3 });
    assert.deepEqual(out.shape, [b, nh, s, hd]);
    // Reference: each query head j reads key/value head floor(j / 2); blocked pairs get -1e30.
    const kk = k.repeatInterleave(2, 1);
    const vv = v.repeatInterleave(2, 1);
    const scores = q.matmul(kk.transpose(2, 3)).mul(0.3).maskedFill(blocked, -1e30);
    const ref = scores.softmax(-1).matmul(vv);
    assert.ok(out.sub(ref).abs().max().item() < 1e-5);
    const unmasked = scaledDotProductAttention(q, k, v).sub(q.matmul(kk.transpose(2, 3)).div(Math.sqrt(hd)).softmax(-1).matmul(vv));
    assert.ok(unmasked.abs().max().item() < 1e-5, 'default scale 1/sqrt(hd), no mask');
  });
});

test('a query that may attend to nothing yields finite values, not NaN', () => {
  tidy(() => {
    const q = randn([1, 1, 2, 4]);
    const k = randn([1, 1, 2, 4]);
    const blocked = tensor([[[[true, true], [false, false]]]]);
    const out = scaledDotProductAttention(q, k, k, { blocked });
    assert.equal(out.isnan().any().item(), 0);
  });
});

test('scaledDotProductAttention errors name the problem', () => {
  tidy(() => {
    const q = randn([1, 3, 2, 4]);
    const k = randn([1, 2, 2, 4]);
    assert.throws(() => scaledDotProductAttention(q, k, k), (e: Error) => e instanceof TorchError && /multiple of the key\/value heads/.test(e.message));
    assert.throws(() => scaledDotProductAttention(randn([3, 4]), k, k), /must be 4-D/);
    assert.throws(() => scaledDotProductAttention(k, k, k, { scale: -1 }), /Expected a positive number for attention scale but received -1/);
  });
});
