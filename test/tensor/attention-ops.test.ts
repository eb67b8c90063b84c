import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, cat, manualSeed, randn, tensor, tidy, TorchError } from 'bfpo';
import { applyRotaryEmbedding, attentionInParts, scaledDotProductAttention } from 'bfpo/tensor';

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

// Training attention keeps only q, k and v and computes the probabilities again in the backward pass; its gradients
// must be those of autograd through the composed eager formula: float32 scores cast from the inputs' dtype, a float32
// softmax cast back, grouped key/value heads, a mask, queries narrowed out of a longer sequence (padding-free groups)
// and a query row that may attend to nothing.
// (float32 and bfloat16 take the fused softmax of native/fused.cc on the CPU, float64 the composed aten ops.)
for (const dtype of ['float32', 'bfloat16', 'float64'] as const) {
  test(`scaledDotProductAttention's gradients equal autograd through the composed formula (${dtype})`, () => {
    tidy(() => {
      manualSeed(2);
      const [nh, nkv, s, hd, scale] = [6, 2, 7, 8, 0.35];
      const lowest = { float32: -3.4028234663852886e38, bfloat16: -3.3895313892515355e38, float64: -1.7976931348623157e308 }[dtype];
      const blocked = randn([1, 1, s, s]).gt(0.3);
      blocked.narrow(2, 0, 1).fill_(true); // the first query sees nothing
      const grad = randn([1, nh, s, hd]).to(dtype);
      const run = (composed: boolean) => {
        // A longer sequence narrowed to positions [2, 2 + s), as a padding-free group is.
        manualSeed(3);
        const q0 = randn([1, nh, s + 4, hd]).to(dtype).requiresGrad_();
        const k0 = randn([1, nkv, s + 4, hd]).to(dtype).requiresGrad_();
        const v0 = randn([1, nkv, s + 4, hd]).to(dtype).requiresGrad_();
        const [q, k, v] = [q0, k0, v0].map((x) => x.narrow(2, 2, s));
        let out;
        if (composed) {
          const kk = k.repeatInterleave(nh / nkv, 1);
          const vv = v.repeatInterleave(nh / nkv, 1);
          const scores = q.matmul(kk.transpose(2, 3)).mul(scale).maskedFill(blocked, lowest);
          out = (dtype === 'float64' ? scores.softmax(-1) : scores.float().softmax(-1).to(dtype)).matmul(vv);
        } else {
          out = scaledDotProductAttention(q, k, v, { blocked, scale, kernel: 'eager' });
        }
        out.to('float64').mul(grad.to('float64')).sum().backward();
        return { out: out.to('float64'), grads: [q0, k0, v0].map((x) => x.grad!.to('float64')) };
      };
      const fast = run(false);
      const ref = run(true);
      const tol = { float32: 1e-5, bfloat16: 2e-2, float64: 1e-12 }[dtype];
      const rel = (a: typeof fast.out, b: typeof fast.out): number => a.sub(b).abs().max().item() / Math.max(b.abs().max().item(), 1e-12);
      assert.ok(rel(fast.out, ref.out) < tol, `output: ${rel(fast.out, ref.out)}`);
      ['q', 'k', 'v'].forEach((name, i) => {
        const r = rel(fast.grads[i], ref.grads[i]);
        assert.ok(r < tol, `${name} gradient differs by ${r} of its largest value`);
        assert.ok(ref.grads[i].abs().max().item() > 0.01, `the ${name} gradient is not empty`);
      });
      assert.equal(fast.grads[0].narrow(2, 2, 1).abs().max().item(), 0, 'a query that sees nothing gets no gradient');
    });
  });
}

// Attention in parts: a packed sequence of two groups, the second a pair [prompt 3 | chosen 2 | rejected 3] whose
// rejected queries see only the prompt's keys and their own. Output and gradients must equal autograd through the
// composed formula run on each part's own slice and keys.
for (const dtype of ['float32', 'bfloat16'] as const) {
  test(`attentionInParts equals the composed formula part by part, values and gradients (${dtype})`, () => {
    tidy(() => {
      manualSeed(4);
      const [nh, nkv, hd, scale, T] = [4, 2, 8, 0.4, 12];
      const causal = (n: number) => tidy(() => { const i = arange(0, n); return i.view(1, n).gt(i.view(n, 1)).view(1, 1, n, n); });
      // Group 1: positions [0, 4), causal. Group 2: [4, 12) = prompt [4, 7), chosen [7, 9), rejected [9, 12).
      const rejMask = cat([randn([3, 3]).mul(0).gt(1), causal(3).view(3, 3)], 1).view(1, 1, 3, 6);
      const parts = [
        { queryStart: 0, queryLength: 4, keys: [[0, 4]] as [number, number][], blocked: causal(4) },
        { queryStart: 4, queryLength: 5, keys: [[4, 5]] as [number, number][], blocked: causal(5) },
        { queryStart: 9, queryLength: 3, keys: [[4, 3], [9, 3]] as [number, number][], blocked: rejMask },
      ];
      const grad = randn([1, nh, T, hd]).to(dtype);
      const run = (composed: boolean) => {
        manualSeed(5);
        const q = randn([1, nh, T, hd]).to(dtype).requiresGrad_();
        const k = randn([1, nkv, T, hd]).to(dtype).requiresGrad_();
        const v = randn([1, nkv, T, hd]).to(dtype).requiresGrad_();
        let out;
        if (composed) {
          const lowest = dtype === 'float32' ? -3.4028234663852886e38 : -3.3895313892515355e38;
          out = cat(parts.map((p) => {
            const kk = cat(p.keys.map(([a, n]) => k.narrow(2, a, n)), 2).repeatInterleave(nh / nkv, 1);
            const vv = cat(p.keys.map(([a, n]) => v.narrow(2, a, n)), 2).repeatInterleave(nh / nkv, 1);
            const scores = q.narrow(2, p.queryStart, p.queryLength).matmul(kk.transpose(2, 3)).mul(scale).maskedFill(p.blocked, lowest);
            return scores.float().softmax(-1).to(dtype).matmul(vv);
          }), 2);
        } else {
          out = attentionInParts(q, k, v, parts, { scale });
        }
        out.float().mul(grad.float()).sum().backward();
        return [out.float(), ...[q, k, v].map((x) => x.grad!.float())];
      };
      const fast = run(false);
      const ref = run(true);
      const tol = dtype === 'float32' ? 1e-5 : 2e-2;
      ['output', 'q gradient', 'k gradient', 'v gradient'].forEach((name, i) => {
        const r = fast[i].sub(ref[i]).abs().max().item() / ref[i].abs().max().item();
        assert.ok(r < tol, `${name} differs by ${r} of its largest value`);
      });
      // The rejected queries never read the chosen answer's keys: changing those leaves their output as it was.
      const q = randn([1, nh, T, hd]).to(dtype);
      const k = randn([1, nkv, T, hd]).to(dtype);
      const k2 = cat([k.narrow(2, 0, 7), randn([1, nkv, 2, hd]).to(dtype), k.narrow(2, 9, 3)], 2);
      const rejected = (kk: typeof k) => attentionInParts(q, kk, kk, parts, { scale }).narrow(2, 9, 3).float();
      assert.equal(rejected(k).sub(rejected(k2)).abs().max().item(), 0);
      // Without gradients, one part over everything gives what the eager kernel gives.
      const viaParts = attentionInParts(q, k, k, [{ queryStart: 0, queryLength: T, keys: [[0, T]], blocked: causal(T) }], { scale });
      const whole = scaledDotProductAttention(q, k, k, { blocked: causal(T), scale, kernel: 'eager' });
      assert.equal(viaParts.float().sub(whole.float()).abs().max().item(), 0);
    });
  });
}

test('attentionInParts errors name the problem', () => {
  tidy(() => {
    const q = randn([1, 2, 5, 4]);
    const k = randn([1, 1, 5, 4]);
    const part = (queryStart: number, queryLength: number, keys: [number, number][]) => ({ queryStart, queryLength, keys, blocked: null });
    assert.throws(() => attentionInParts(q, k, k, [part(0, 3, [[0, 3]])]), /the parts' queries must tile the sequence in order/);
    assert.throws(() => attentionInParts(q, k, k, [part(0, 3, [[0, 3]]), part(2, 3, [[0, 5]])]), /the parts' queries must tile the sequence in order/);
    assert.throws(() => attentionInParts(q, k, k, [part(0, 5, [[3, 4]])]), /a key range lies outside the keys/);
    assert.throws(() => attentionInParts(q, k, k, [part(0, 5, [])]), /every part needs a key range/);
    assert.throws(() => attentionInParts(q, k, k, [{ ...part(0, 5, [[0, 5]]), blocked: randn([1, 1, 5, 4]).gt(0) }]), /mask 0 must be \[b or 1, 1, 5, 5\]/);
    assert.throws(() => attentionInParts(q, k, k, [part(0, 5, [[0, 5]])], { scale: 0 }), /Expected a positive number for attention scale/);
  });
});
