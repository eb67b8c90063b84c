// Losses against the formulas of BFPO.md evaluated independently in double precision in plain JS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, preferenceLoss, preferenceMetrics, tensor, type LossType } from 'bfpo';
import { safetyLabels } from 'bfpo/losses';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const rnd = lcg(7);
const n = 16;
const pc = Array.from({ length: n }, () => -40 * rnd() - 5);
const pr = Array.from({ length: n }, () => -40 * rnd() - 5);
const rc = Array.from({ length: n }, () => -40 * rnd() - 5);
const rr = Array.from({ length: n }, () => -40 * rnd() - 5);
const sc = Array.from({ length: n }, (_, i) => (i % 2));
const sr = Array.from({ length: n }, (_, i) => (Math.floor(i / 2) % 2));

const logSigmoid = (x: number) => (x < 0 ? x - Math.log1p(Math.exp(x)) : -Math.log1p(Math.exp(-x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function reference(type: LossType, beta: number, { b1 = 3, alpha = 0.5, eps = 0 } = {}): number[] {
  const h = pc.map((_, i) => (pc[i] - pr[i]) - (rc[i] - rr[i]));
  switch (type) {
    case 'bfpo': {
      const b3 = 1 / (b1 - 1);
      return h.map((v, i) => (v - (b1 * b3 * sc[i] - b3 * sr[i] - alpha) / beta) ** 2);
    }
    case 'sigmoid': return h.map((v) => -(1 - eps) * logSigmoid(beta * v) - eps * logSigmoid(-beta * v));
    case 'ipo': return h.map((v) => (v - 1 / (2 * beta)) ** 2);
    case 'hinge': return h.map((v) => Math.max(0, 1 - beta * v));
    case 'kto_pair': {
      const lc = pc.map((v, i) => v - rc[i]);
      const lr = pr.map((v, i) => v - rr[i]);
      const klc = Math.max(0, lc.reduce((a, b) => a + b) / n);
      const klr = Math.max(0, lr.reduce((a, b) => a + b) / n);
      return [...lc.map((v) => 1 - sigmoid(beta * (v - klr))), ...lr.map((v) => 1 - sigmoid(beta * (klc - v)))];
    }
  }
}

function inputs() {
  const f = (a: number[]) => tensor(Float64Array.from(a));
  return {
    policyChosenLogps: f(pc), policyRejectedLogps: f(pr), referenceChosenLogps: f(rc), referenceRejectedLogps: f(rr),
    isChosenSafe: safetyLabels(sc, 'is_chosen_safe'), isRejectedSafe: safetyLabels(sr, 'is_rejected_safe'),
  };
}

function assertClose(actual: number[], expectedValues: number[], rel = 1e-9) {
  assert.equal(actual.length, expectedValues.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expectedValues[i]) <= rel * Math.max(1, Math.abs(expectedValues[i])), `index ${i}: ${a} vs ${expectedValues[i]}`));
}

for (const [type, beta, opts] of [
  ['bfpo', 0.01, {}], ['bfpo', 0.1, { b1: 5, alpha: 0.2 }], ['sigmoid', 0.1, {}], ['sigmoid', 0.5, { eps: 0.1 }],
  ['ipo', 0.1, {}], ['hinge', 0.05, {}], ['kto_pair', 0.1, {}],
] as [LossType, number, { b1?: number; alpha?: number; eps?: number }][]) {
  test(`${type} loss equals its formula (beta ${beta}, ${JSON.stringify(opts)})`, () => {
    const out = preferenceLoss(type, inputs(), { beta, b1: opts.b1, alpha: opts.alpha, labelSmoothing: opts.eps });
    assertClose(Array.from(out.losses.toTypedArray() as Float64Array), reference(type, beta, opts));
    assertClose(Array.from(out.chosenRewards.toTypedArray() as Float64Array), pc.map((v, i) => beta * (v - rc[i])));
    assertClose(Array.from(out.rejectedRewards.toTypedArray() as Float64Array), pr.map((v, i) => beta * (v - rr[i])));
  });
}

test('bfpo targets with b1 = 3, alpha = 0.5 are +0.5, +1, -1, -0.5 (times 1/beta) and both-safe equals ipo', () => {
  const beta = 0.1;
  const zero = tensor([0, 0, 0, 0], { dtype: 'float64' });
  const out = preferenceLoss('bfpo', {
    policyChosenLogps: zero, policyRejectedLogps: zero, referenceChosenLogps: zero, referenceRejectedLogps: zero,
    isChosenSafe: safetyLabels([1, 1, 0, 0], 'sc'), isRejectedSafe: safetyLabels([1, 0, 1, 0], 'sr'),
  }, { beta });
  // With h = 0 the loss is target^2, so the targets are +-sqrt(loss) with the signs of the table.
  const targets = Array.from(out.losses.toTypedArray() as Float64Array).map((l, i) => Math.sqrt(l) * [1, 1, -1, -1][i] * beta);
  assertClose(targets, [0.5, 1, -1, -0.5]);
  const bothSafe = inputs();
  bothSafe.isChosenSafe = safetyLabels(new Array(n).fill(1), 'sc');
  bothSafe.isRejectedSafe = safetyLabels(new Array(n).fill(1), 'sr');
  const a = preferenceLoss('bfpo', bothSafe, { beta }).losses.toTypedArray();
  const b = preferenceLoss('ipo', bothSafe, { beta }).losses.toTypedArray();
  assertClose(Array.from(a as Float64Array), Array.from(b as Float64Array));
});

test('bfpo gradient w.r.t. the policy chosen log-prob is 2 (h - target)', () => {
  const x = inputs();
  const p = tensor(Float64Array.from(pc)).requiresGrad_();
  x.policyChosenLogps = p;
  const beta = 0.05;
  preferenceLoss('bfpo', x, { beta }).losses.sum().backward();
  const ref = reference('bfpo', beta).map((l, i) => {
    const h = (pc[i] - pr[i]) - (rc[i] - rr[i]);
    const target = (1.5 * sc[i] - 0.5 * sr[i] - 0.5) / beta;
    assert.ok(Math.abs((h - target) ** 2 - l) < 1e-6 * Math.max(1, l));
    return 2 * (h - target);
  });
  assertClose(Array.from(p.grad!.toTypedArray() as Float64Array), ref);
});

test('impossible settings are refused before any work, naming the option', () => {
  const x = inputs();
  assert.throws(() => preferenceLoss('bfpo', x, { b1: 1 }), (e: Error) => e instanceof ArgumentError && /for b1/.test(e.message));
  assert.throws(() => preferenceLoss('bfpo', x, { beta: 0 }), /Expected a number > 0 for beta but received 0/);
  assert.throws(() => preferenceLoss('sigmoid', x, { beta: -1 }), /for beta/);
  assert.throws(() => preferenceLoss('nope' as LossType, x), /Expected one of bfpo, sigmoid, ipo, hinge, kto_pair for loss_type/);
  assert.throws(() => preferenceLoss('ipo', x, { labelSmoothing: 0.1 }), /label_smoothing applies to loss_type 'sigmoid' only/);
  assert.throws(() => preferenceLoss('bfpo', { ...x, isChosenSafe: undefined }), /isChosenSafe/);
  assert.throws(() => safetyLabels([0, 1, 2], 'is_chosen_safe'), /Expected 0 or 1 for is_chosen_safe\[2\] but received 2/);
  assert.throws(() => preferenceLoss('ipo', { ...x, policyRejectedLogps: tensor([1, 2]) }), /policyRejectedLogps/);
});

test('metrics: rewards, accuracies, margins and masked safe/unsafe rewards', () => {
  const x = inputs();
  const beta = 0.1;
  const out = preferenceLoss('bfpo', x, { beta });
  const m = preferenceMetrics(out, x, { prefix: 'eval_' });
  const cr = pc.map((v, i) => beta * (v - rc[i]));
  const rj = pr.map((v, i) => beta * (v - rr[i]));
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  assertClose([m['eval_rewards/chosen'], m['eval_rewards/rejected']], [mean(cr), mean(rj)]);
  assertClose([m['eval_rewards/accuracies']], [mean(cr.map((c, i) => (c > rj[i] ? 1 : 0)))]);
  assertClose([m['eval_rewards/margins']], [mean(cr.map((c, i) => c - rj[i]))]);
  assertClose([m['eval_logps/chosen'], m['eval_logps/rejected']], [mean(pc), mean(pr)]);
  assertClose([m['eval_rewards/safe_rewards']], [mean(cr.filter((_, i) => sc[i] === 1))]);
  assertClose([m['eval_rewards/unsafe_rewards']], [mean(cr.filter((_, i) => sc[i] === 0))]);
  // An empty group is left out rather than reported as NaN.
  x.isChosenSafe = safetyLabels(new Array(n).fill(1), 'sc');
  const all = preferenceMetrics(preferenceLoss('bfpo', x, { beta }), x);
  assert.ok(!('rewards/unsafe_rewards' in all));
  assert.ok(Number.isFinite(all['rewards/safe_rewards']));
});
