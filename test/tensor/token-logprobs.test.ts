// tokenLogProbs (native/logprob.cc) against the composed ops it replaces: logSoftmax(logits.float(), 1).gather().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cat, full, manualSeed, randint, randn, tensor, tidy, noGrad, TorchError, type Tensor } from 'bfpo';
import { tokenLogProbs } from 'bfpo/tensor';

/** The composed reference: float32 log-softmax of the rows, then the target column. */
function composed(logits: Tensor, targets: Tensor): Tensor {
  const x = logits.dtype === 'float32' || logits.dtype === 'float64' ? logits : logits.float();
  return x.logSoftmax(1).gather(1, targets.unsqueeze(1)).squeeze(1);
}

/** max |a - b| / (atol + rtol |b|) over the elements: <= 1 means within tolerance (NaN never is). */
function worst(a: Tensor, b: Tensor, atol: number, rtol: number): number {
  const x = a.float();
  const y = b.float();
  assert.deepEqual(x.shape, y.shape);
  return x.sub(y).abs().div(y.abs().mul(rtol).add(atol)).max().item() as number;
}

/** Forward and gradient (for a random upstream gradient g) of `fn` with respect to a fresh leaf copy of `logits`. */
function run(fn: (x: Tensor, t: Tensor) => Tensor, logits: Tensor, targets: Tensor, g: Tensor): { out: Tensor; grad: Tensor } {
  const x = logits.detach().clone().requiresGrad_();
  const out = fn(x, targets);
  out.mul(g).sum().backward();
  return { out: out.detach(), grad: x.grad! };
}

/** Random logits with extreme rows: scaled by 1000, shifted by +-3e4, one very peaked, one with -inf entries. */
function logitsWithExtremes(n: number, v: number): Tensor {
  const base = randn([n, v]).mul(3);
  const rows = [
    base.narrow(0, 0, n - 4),
    base.narrow(0, n - 4, 1).mul(1000), // log-probs down to about -1e4
    base.narrow(0, n - 3, 1).add(3e4), // large offsets: only the differences matter
    base.narrow(0, n - 2, 1).sub(3e4),
    cat([full([1, 3], -Infinity), base.narrow(0, n - 1, 1).narrow(1, 3, v - 3)], 1), // masked-out entries
  ];
  return cat(rows, 0);
}

function targetsFor(n: number, v: number): Tensor {
  const t = randint(0, v, [n]);
  return cat([t.narrow(0, 0, n - 1), tensor([v - 1])], 0); // the last row's target is finite (its first 3 are -inf)
}

for (const [n, v] of [[1, 17], [5, 5], [37, 1003], [64, 32000]] as const) {
  test(`float32 [${n}, ${v}]: forward within 1e-5 and gradient within 1e-6 of the composed ops`, () => {
    tidy(() => {
      manualSeed(n * 7 + v);
      const logits = n >= 5 ? logitsWithExtremes(n, v) : randn([n, v]).mul(4);
      const targets = n >= 5 ? targetsFor(n, v) : randint(0, v, [n]);
      const g = randn([n]);
      const fused = run(tokenLogProbs, logits, targets, g);
      const ref = run(composed, logits, targets, g);
      assert.equal(fused.out.dtype, 'float32');
      assert.equal(fused.grad.dtype, 'float32');
      // Relative part: log-probs of the rows scaled by 1000 reach -1e4, where a float32 ulp is 1e-3.
      assert.ok(worst(fused.out, ref.out, 1e-5, 1e-6) <= 1, `forward: ${worst(fused.out, ref.out, 1e-5, 1e-6)}`);
      assert.ok(worst(fused.grad, ref.grad, 1e-6, 1e-5) <= 1, `gradient: ${worst(fused.grad, ref.grad, 1e-6, 1e-5)}`);
    });
  });

  test(`bfloat16 [${n}, ${v}]: forward as the float32 ops on the same values, gradient within one bfloat16 rounding`, () => {
    tidy(() => {
      manualSeed(n * 11 + v);
      const logits = (n >= 5 ? logitsWithExtremes(n, v) : randn([n, v]).mul(4)).to('bfloat16');
      const targets = n >= 5 ? targetsFor(n, v) : randint(0, v, [n]);
      const g = randn([n]);
      const fused = run(tokenLogProbs, logits, targets, g);
      const ref = run(composed, logits, targets, g); // float32 log-softmax of the bfloat16 values, gradient cast back
      assert.equal(fused.out.dtype, 'float32');
      assert.equal(fused.grad.dtype, 'bfloat16');
      assert.ok(worst(fused.out, ref.out, 1e-5, 1e-6) <= 1, `forward: ${worst(fused.out, ref.out, 1e-5, 1e-6)}`);
      // Both gradients are float32 values rounded once to bfloat16; float32 differences of ~1e-7 can move a value
      // across a rounding boundary, so they agree to one bfloat16 step (2^-7 relative) and not always bit for bit.
      assert.ok(worst(fused.grad, ref.grad, 1e-6, 2 ** -7) <= 1, `gradient: ${worst(fused.grad, ref.grad, 1e-6, 2 ** -7)}`);
      // Against the exact float32 gradient it is within half a bfloat16 step (2^-8 relative).
      const exact = run(composed, logits.float(), targets, g);
      assert.ok(worst(fused.grad, exact.grad, 1e-6, 2 ** -8) <= 1, `gradient vs float32: ${worst(fused.grad, exact.grad, 1e-6, 2 ** -8)}`);
    });
  });
}

test('a target outside [0, vocab) is an error naming the target and the vocabulary size', () => {
  tidy(() => {
    const logits = randn([3, 10]);
    assert.throws(() => tokenLogProbs(logits, tensor([1, 10, 2])), (e: unknown) => e instanceof TorchError && /target 10 .*vocabulary of 10/.test(e.message));
    assert.throws(() => tokenLogProbs(logits, tensor([-100, 0, 2])), (e: unknown) => e instanceof TorchError && /target -100 .*vocabulary of 10/.test(e.message));
    assert.throws(() => tokenLogProbs(logits.to('bfloat16'), tensor([0, 0, 99])), /target 99 .*vocabulary of 10/);
    assert.throws(() => tokenLogProbs(logits, tensor([0, 1])), /targets must be \[3\]/);
    assert.throws(() => tokenLogProbs(logits, tensor([0, 1, 2], { dtype: 'int32' })), /int64/);
  });
});

test('without autograd, for float64 and for an empty batch it still gives the log-probs', () => {
  tidy(() => {
    manualSeed(3);
    const logits = randn([6, 40]);
    const targets = randint(0, 40, [6]);
    const ref = composed(logits, targets);
    assert.ok(worst(noGrad(() => tokenLogProbs(logits.requiresGrad_(), targets)), ref, 1e-5, 1e-6) <= 1);
    const d = tokenLogProbs(logits.detach().to('float64'), targets);
    assert.equal(d.dtype, 'float64');
    assert.ok(worst(d, ref, 1e-5, 1e-6) <= 1);
    assert.deepEqual(tokenLogProbs(randn([0, 40]), randint(0, 40, [0])).shape, [0]);
  });
});
