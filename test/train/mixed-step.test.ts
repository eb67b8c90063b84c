// The mixed-precision optimizer step: float32 masters stepped from the bfloat16 model gradients, clipped and rounded
// back in one pass per parameter, must give bit for bit what the step-by-step path gives (gradients moved to float32
// masters, clip_grad_norm_ on them, the optimizer's step, the masters copied back), for AdamW and Adam, with and
// without clipping and weight decay, on contiguous parameters (one native pass) and a strided one (the op-by-op
// fallback).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Adam, AdamW, manualSeed, noGrad, randn, tidy, type Tensor } from 'bfpo';
import { clipCoefficient, clipGradNormTensor_, gradNormTensor } from '../../src/tensor/autograd.js';
import { MasterWeights } from '../../src/train/precision.js';

function modelParams(): Tensor[] {
  manualSeed(11);
  const strided = noGrad(() => randn([5, 7]).to('bfloat16').t().contiguous().t()).requiresGrad_(); // [5, 7], strides [1, 5]
  return [randn([64, 33]).to('bfloat16').requiresGrad_(), randn([100]).to('bfloat16').requiresGrad_(), strided];
}

function setGrads(params: Tensor[], step: number, big: boolean): void {
  manualSeed(100 + step);
  for (const p of params) {
    const g = randn(p.shape).mul(big ? 10 : 1e-3).to('bfloat16');
    p.grad = g;
    g.dispose();
  }
}

const bits = (t: Tensor): Buffer => Buffer.from(t.contiguous().toBuffer());

for (const kind of ['AdamW', 'Adam'] as const) {
  for (const weightDecay of [0, 0.1]) {
    test(`${kind} (weight decay ${weightDecay}): the one-pass mixed step equals gradients to float32, clipping, step, copy back`, () => {
      tidy(() => {
        const make = (ps: Tensor[]) => (kind === 'AdamW' ? new AdamW(ps, { lr: 1e-2, weightDecay }) : new Adam(ps, { lr: 1e-2, weightDecay }));
        const a = modelParams();
        const b = modelParams();
        const ma = new MasterWeights(a);
        const mb = new MasterWeights(b);
        const oa = make(ma.params());
        const ob = make(mb.params());
        assert.ok(ob.stepsMixed);
        for (let step = 0; step < 4; step++) {
          const big = step % 2 === 0; // even steps clip (norm far above 1), odd ones do not
          setGrads(a, step, big);
          setGrads(b, step, big);
          // Step by step.
          ma.gradsToMaster();
          const n1 = clipGradNormTensor_(ma.params(), 1.0);
          oa.step();
          oa.zeroGrad();
          ma.copyBack();
          // One pass.
          const n2 = gradNormTensor(mb.model);
          const norm = n2.item();
          assert.equal(Math.abs(norm - n1.item()) / n1.item() < 1e-6, true, `norms ${norm} and ${n1.item()}`);
          assert.equal(big, clipCoefficient(1.0, norm) < 1);
          ob.stepMixed((p) => mb.modelOf(p), clipCoefficient(1.0, norm));
          mb.dropModelGrads();
          assert.ok(b.every((p) => p.grad === null), 'the model gradients are dropped');
          ma.params().forEach((m, i) => assert.ok(bits(m).equals(bits(mb.params()[i])), `step ${step}: master ${i} differs`));
          a.forEach((p, i) => assert.ok(bits(p).equals(bits(b[i])), `step ${step}: model parameter ${i} differs`));
        }
        assert.ok(a[0].float().sub(modelParams()[0].float()).abs().max().item() > 0, 'the parameters moved');
      });
    });
  }
}

test('clipCoefficient is min(1, maxNorm / (norm + 1e-6)) in float32', () => {
  assert.equal(clipCoefficient(1, 0.5), 1);
  assert.equal(clipCoefficient(1, 4), Math.fround(1 / Math.fround(4 + Math.fround(1e-6))));
  assert.ok(clipCoefficient(2, 8) < 0.25 && clipCoefficient(2, 8) > 0.2499);
});
