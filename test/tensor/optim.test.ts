// Optimizers and gradient clipping against torch.optim (test/fixtures/tensor/optim.json, made by
// scripts/fixtures/torch_optim.py), exact resume through stateDict, and RNG state save/restore.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Adam, AdamW, type Optimizer, RMSprop, SGD, type Tensor, manualSeed, memoryStats, randn, tidy } from 'bfpo';
import { clipGradNorm_, getRngState, linear, setRngState } from 'bfpo/tensor';
import { type EncodedTensor, assertTensor, decodeTensor, loadFixture, num } from './fixture.js';

interface Run {
  name: string;
  optimizer: 'AdamW' | 'Adam' | 'SGD' | 'RMSprop';
  options: Record<string, unknown>;
  groups?: { params: number[]; options: Record<string, unknown> }[];
  clip?: { maxNorm: number; normType: number };
  losses: number[];
  norms?: number[];
  params: EncodedTensor[];
}
interface ClipCase { name: string; maxNorm: number; normType: number | string; norm: number; grads: EncodedTensor[] }
const fx = loadFixture<{ torch: string; steps: number; init: EncodedTensor[]; x: EncodedTensor; y: EncodedTensor; runs: Run[]; clips: ClipCase[] }>('optim.json');

const TOL = { rtol: 1e-5, atol: 1e-6 };
const x = decodeTensor(fx.x); // [5, 3]
const y = decodeTensor(fx.y); // [5, 2]

function freshParams(): Tensor[] {
  return fx.init.map((e) => decodeTensor(e).requiresGrad_(true));
}

/** mean((linear(tanh(linear(x, w1, b1)), w2, b2) - y)^2), as in the fixture script. */
function lossOf(p: Tensor[]): Tensor {
  return tidy(() => linear(linear(x, p[0], p[1]).tanh(), p[2], p[3]).sub(y).square().mean());
}

const CLASSES = { AdamW, Adam, SGD, RMSprop } as const;

function makeOptimizer(run: Pick<Run, 'optimizer' | 'options' | 'groups'>, params: Tensor[]): Optimizer<{ lr: number }> {
  const Cls = CLASSES[run.optimizer] as unknown as new (p: unknown, o: unknown) => Optimizer<{ lr: number }>;
  if (!run.groups) return new Cls(params, run.options);
  return new Cls(run.groups.map((g) => ({ params: g.params.map((i) => params[i]), ...g.options })), run.options);
}

/** One training step: zero grads, loss, backward, optional clipping, update. Returns [loss, clip norm]. */
function trainStep(opt: Optimizer<{ lr: number }>, params: Tensor[], clip?: Run['clip']): [number, number] {
  opt.zeroGrad();
  const loss = lossOf(params);
  const value = loss.item();
  loss.backward();
  loss.dispose();
  const norm = clip ? clipGradNorm_(params, clip.maxNorm, clip.normType) : Number.NaN;
  opt.step();
  return [value, norm];
}

function disposeAll(ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

describe(`optimizers against torch.optim ${fx.torch}`, () => {
  for (const run of fx.runs) {
    test(run.name, () => {
      const params = freshParams();
      const opt = makeOptimizer(run, params);
      for (let s = 0; s < fx.steps; s++) {
        const [loss, norm] = trainStep(opt, params, run.clip);
        assert.ok(Math.abs(loss - run.losses[s]) <= 1e-5 * Math.abs(run.losses[s]) + 1e-7, `loss at step ${s}: ${loss} vs ${run.losses[s]}`);
        if (run.norms) assert.ok(Math.abs(norm - run.norms[s]) <= 1e-5 * run.norms[s], `clip norm at step ${s}: ${norm} vs ${run.norms[s]}`);
      }
      params.forEach((p, i) => assertTensor(p, run.params[i], `parameter ${i} after ${fx.steps} steps`, TOL));
      opt.dispose();
      disposeAll(params);
    });
  }
});

describe('clipGradNorm_ against torch.nn.utils.clip_grad_norm_', () => {
  for (const c of fx.clips) {
    test(c.name, () => {
      const params = freshParams();
      const loss = lossOf(params);
      loss.backward();
      const norm = clipGradNorm_(params, c.maxNorm, num(c.normType));
      assert.ok(Math.abs(norm - c.norm) <= 1e-5 * c.norm, `norm ${norm} vs ${c.norm}`);
      params.forEach((p, i) => tidy(() => assertTensor(p.grad as Tensor, c.grads[i], `clipped grad ${i}`, TOL)));
      loss.dispose();
      disposeAll(params);
    });
  }

  test('parameters without gradients are skipped, and no gradients give norm 0', () => {
    const params = freshParams();
    assert.equal(clipGradNorm_(params, 1), 0);
    disposeAll(params);
  });
});

/** Copies a state dict's tensors, so that later steps of its optimizer cannot change the copy. */
function cloneStateDict<T extends ReturnType<Optimizer<{ lr: number }>['stateDict']>>(sd: T): T {
  return {
    groups: sd.groups.map((g) => ({ ...g })),
    state: sd.state.map((s) => s && Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? v : v.clone()]))),
  } as T;
}

const RESUMABLE: Pick<Run, 'optimizer' | 'options' | 'groups'>[] = [
  { optimizer: 'AdamW', options: { lr: 0.01, weightDecay: 0.1 } },
  { optimizer: 'Adam', options: { lr: 0.01, weightDecay: 0.05 } },
  { optimizer: 'SGD', options: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 } },
  { optimizer: 'SGD', options: { lr: 0.05, momentum: 0.9 }, groups: [{ params: [0, 1], options: { lr: 0.1 } }, { params: [2, 3], options: { momentum: 0 } }] },
  { optimizer: 'RMSprop', options: { lr: 0.01, centered: true, momentum: 0.5, weightDecay: 0.01 } },
];

describe('exact resume through stateDict / loadStateDict', () => {
  for (const spec of RESUMABLE) {
    test(`${spec.optimizer} ${JSON.stringify(spec.options)}${spec.groups ? ' with groups' : ''}`, () => {
      // Uninterrupted: 10 steps.
      const straight = freshParams();
      const optA = makeOptimizer(spec, straight);
      for (let s = 0; s < 10; s++) trainStep(optA, straight);

      // Interrupted: 5 steps, save parameters and optimizer state, then resume in a fresh optimizer.
      const first = freshParams();
      const optB = makeOptimizer(spec, first);
      for (let s = 0; s < 5; s++) trainStep(optB, first);
      const saved = cloneStateDict(optB.stateDict());
      const savedParams = first.map((p) => p.detach().clone());
      // The first optimizer keeps training; the saved copy must not follow it.
      for (let s = 0; s < 5; s++) trainStep(optB, first);

      const resumed = savedParams.map((p) => p.requiresGrad_(true));
      const optC = makeOptimizer(spec, resumed);
      optC.loadStateDict(saved);
      for (let s = 0; s < 5; s++) trainStep(optC, resumed);

      resumed.forEach((p, i) => assert.ok(p.toBuffer().equals(straight[i].toBuffer()), `parameter ${i} is bitwise equal after resuming`));
      first.forEach((p, i) => assert.ok(p.toBuffer().equals(straight[i].toBuffer()), `parameter ${i} of the uninterrupted copy`));
      for (const o of [optA, optB, optC]) o.dispose();
      for (const s of saved.state) if (s) for (const v of Object.values(s)) if (typeof v !== 'number') v.dispose();
      disposeAll([...straight, ...first, ...resumed]);
    });
  }

  test('loading a live optimizer\'s state dict copies it (the two runs stay independent)', () => {
    const spec = RESUMABLE[0];
    const a = freshParams();
    const optA = makeOptimizer(spec, a);
    for (let s = 0; s < 3; s++) trainStep(optA, a);
    const b = a.map((p) => p.detach().clone().requiresGrad_(true));
    const optB = makeOptimizer(spec, b);
    optB.loadStateDict(optA.stateDict());
    for (let s = 0; s < 3; s++) trainStep(optA, a);
    for (let s = 0; s < 3; s++) trainStep(optB, b);
    a.forEach((p, i) => assert.ok(p.toBuffer().equals(b[i].toBuffer()), `parameter ${i}`));
    optA.dispose();
    optB.dispose();
    disposeAll([...a, ...b]);
  });

  test('loadStateDict rejects a state dict of another shape', () => {
    const a = freshParams();
    const optA = makeOptimizer(RESUMABLE[0], a);
    trainStep(optA, a);
    const b = freshParams();
    const optB = makeOptimizer(RESUMABLE[0], b.slice(0, 2));
    assert.throws(() => optB.loadStateDict(optA.stateDict()), /Expected state for 2 parameters for loadStateDict but received 4/);
    optA.dispose();
    optB.dispose();
    disposeAll([...a, ...b]);
  });
});

describe('optimizer behaviour', () => {
  test('parameters without a gradient are left alone and get no state', () => {
    const params = freshParams();
    const frozen = params[3].detach().clone();
    const opt = new AdamW(params, { lr: 0.1 });
    opt.zeroGrad();
    const loss = tidy(() => linear(linear(x, params[0], params[1]).tanh(), params[2]).sub(y).square().mean());
    loss.backward();
    opt.step();
    assert.ok(params[3].toBuffer().equals(frozen.toBuffer()));
    assert.equal(opt.stateDict().state[3], null);
    assert.notEqual(opt.stateDict().state[0], null);
    opt.zeroGrad();
    for (const p of params) assert.equal(p.grad, null);
    opt.dispose();
    disposeAll([...params, loss, frozen]);
  });

  test('state tensors live outside scopes and are freed by dispose()', () => {
    const params = freshParams();
    const before = memoryStats().liveTensors;
    const opt = new Adam(params, { lr: 0.01 });
    tidy(() => trainStep(opt, params));
    assert.equal(memoryStats().liveTensors, before + 2 * params.length, 'exp_avg and exp_avg_sq per parameter');
    opt.dispose();
    assert.equal(memoryStats().liveTensors, before);
    disposeAll(params);
  });
});

describe('Adam update paths', () => {
  // float32 CPU parameters take the single-pass native loop; other dtypes the tensor-op path. Both follow torch.optim.
  for (const [Cls, options] of [[AdamW, { lr: 0.02, weightDecay: 0.1 }], [Adam, { lr: 0.02, weightDecay: 0.1 }], [Adam, { lr: 0.02 }]] as const) {
    test(`${Cls.name} ${JSON.stringify(options)}: the float32 loop and the float64 path agree over 10 steps`, () => {
      const p32 = freshParams();
      const p64 = fx.init.map((e) => decodeTensor(e).to('float64').requiresGrad_(true));
      const [o32, o64] = [new Cls(p32, options), new Cls(p64, options)];
      for (let s = 0; s < 10; s++) {
        for (const [opt, ps] of [[o32, p32], [o64, p64]] as const) {
          opt.zeroGrad();
          const loss = tidy(() => linear(linear(x.to(ps[0].dtype), ps[0], ps[1]).tanh(), ps[2], ps[3]).sub(y.to(ps[0].dtype)).square().mean());
          loss.backward();
          loss.dispose();
          opt.step();
        }
      }
      p32.forEach((p, i) => {
        const a = p.toTypedArray() as Float32Array;
        const b = p64[i].toTypedArray() as Float64Array;
        a.forEach((v, j) => assert.ok(Math.abs(v - b[j]) <= 1e-5 * Math.abs(b[j]) + 1e-6, `parameter ${i}[${j}]: ${v} vs ${b[j]}`));
      });
      o32.dispose();
      o64.dispose();
      disposeAll([...p32, ...p64]);
    });
  }
});

describe('random number generator state', () => {
  test('getRngState / setRngState replay identical draws', () => {
    manualSeed(123);
    randn([3]).dispose();
    const state = getRngState();
    const a = randn([4, 5]);
    const a2 = randn([7]);
    setRngState(state);
    const b = randn([4, 5]);
    const b2 = randn([7]);
    assert.ok(a.toBuffer().equals(b.toBuffer()));
    assert.ok(a2.toBuffer().equals(b2.toBuffer()));
    assert.equal(state.dtype, 'uint8');
    disposeAll([state, a, a2, b, b2]);
  });

  test('manualSeed makes draws reproducible and different seeds differ', () => {
    manualSeed(5);
    const a = randn([6]);
    manualSeed(5);
    const b = randn([6]);
    manualSeed(6);
    const c = randn([6]);
    assert.ok(a.toBuffer().equals(b.toBuffer()));
    assert.ok(!a.toBuffer().equals(c.toBuffer()));
    disposeAll([a, b, c]);
  });
});
