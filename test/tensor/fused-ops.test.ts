// The fused CPU kernels of native/fused.cc (rmsNorm, rotary, swiglu) against the composed aten ops they replace
// (impl 1), forward and every gradient, in float32 and bfloat16, with odd sizes, one row, non-contiguous inputs and
// large and small magnitudes.
//
// Tolerances: float32 forward and gradients agree to 1e-5 relative (rotary bit for bit: it rounds like the
// composed ops); bfloat16 rmsNorm and rotary forwards agree within one bfloat16 ulp (rotary bit for bit), bfloat16
// gradients and the swiglu forward within two ulps of the larger value plus 2^-8 of the tensor's largest value
// (the composed ops round intermediates to bfloat16 in places where the fused kernels keep float32).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { getNumThreads, manualSeed, randn, setNumThreads, tidy, type DType, type Tensor, TorchError } from '../../src/index.js';
import { kernelThreads } from '../../src/tensor/runtime.js';
import { native } from '../../src/tensor/native.js';
import { wrap } from '../../src/tensor/tensor.js';

type Impl = 1 | 2; // composed aten ops, fused
const COMPOSED = 1;
const FUSED = 2;

const rms = (eps: number) => (impl: Impl, [x, w]: Tensor[]): Tensor => wrap(native.rmsNorm(x.handle, w.handle, eps, impl));
const rot = (impl: Impl, [x, c, s]: Tensor[]): Tensor => wrap(native.rotary(x.handle, c.handle, s.handle, impl));
const glu = (impl: Impl, [g, u]: Tensor[]): Tensor => wrap(native.swiglu(g.handle, u.handle, impl));

function values(t: Tensor): number[] {
  return t.to('float32').reshape(-1).toArray() as number[];
}

/** One bfloat16 ulp at |v| (the spacing of bfloat16 numbers there). */
function ulp(v: number): number {
  const a = Math.abs(v);
  return a < 2 ** -126 ? 2 ** -133 : 2 ** (Math.floor(Math.log2(a)) - 7);
}

interface Tol { rtol?: number; atol?: number; ulps?: number; scaleAtol?: number }

/** Asserts |a - b| <= atol + rtol |b| + ulps * ulp(max(|a|, |b|)) + scaleAtol * max |b| elementwise. */
function assertClose(a: Tensor, b: Tensor, tol: Tol, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  assert.equal(a.dtype, b.dtype, `${what}: dtype`);
  const av = values(a);
  const bv = values(b);
  const scale = Math.max(0, ...bv.map(Math.abs));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < av.length; i++) {
    const allowed = (tol.atol ?? 0) + (tol.rtol ?? 0) * Math.abs(bv[i]) + (tol.ulps ?? 0) * ulp(Math.max(Math.abs(av[i]), Math.abs(bv[i]))) + (tol.scaleAtol ?? 0) * scale;
    const err = Math.abs(av[i] - bv[i]);
    if (!(err <= allowed) && !(Number.isNaN(av[i]) && Number.isNaN(bv[i]))) {
      if (!(err / (allowed || 1e-30) <= worst)) { worst = err / (allowed || 1e-30); at = i; }
    }
  }
  assert.ok(at < 0, `${what}: element ${at} is ${av[at]}, the composed op gives ${bv[at]} (${worst.toFixed(1)}x the tolerance)`);
}

/** The fraction of elements that are bit for bit equal (compared as float32, which holds every bfloat16 exactly). */
function equalFraction(a: Tensor, b: Tensor): number {
  const av = values(a);
  const bv = values(b);
  return av.filter((v, i) => Object.is(v, bv[i])).length / Math.max(1, av.length);
}

interface Run { out: Tensor; grads: (Tensor | null)[] }

/**
 * Runs op with impl on fresh leaves copied from `inputs` (those with needsGrad[i] require a gradient), after
 * `view` (which may make them non-contiguous), and back-propagates `upstream`.
 */
function run(op: (impl: Impl, xs: Tensor[]) => Tensor, impl: Impl, inputs: Tensor[], needsGrad: boolean[], upstream: (out: Tensor) => Tensor,
  view: (xs: Tensor[]) => Tensor[] = (xs) => xs): Run {
  const leaves = inputs.map((t, i) => { const l = t.detach().clone(); if (needsGrad[i]) l.requiresGrad_(true); return l; });
  const out = op(impl, view(leaves));
  if (needsGrad.some(Boolean)) out.backward(upstream(out));
  return { out: out.detach(), grads: leaves.map((l) => l.grad) };
}

function compare(name: string, op: (impl: Impl, xs: Tensor[]) => Tensor, inputs: Tensor[], needsGrad: boolean[], tol: { fwd: Tol; grad: Tol },
  view?: (xs: Tensor[]) => Tensor[]): { fused: Run; composed: Run } {
  let seed = 100;
  const upstream = (out: Tensor): Tensor => { manualSeed(seed); return randn(out.shape).to(out.dtype); };
  const fused = run(op, FUSED, inputs, needsGrad, upstream, view);
  seed = 100;
  const composed = run(op, COMPOSED, inputs, needsGrad, upstream, view);
  assertClose(fused.out, composed.out, tol.fwd, `${name} forward`);
  needsGrad.forEach((need, i) => {
    if (!need) {
      assert.equal(fused.grads[i], null, `${name}: input ${i} needs no gradient`);
      return;
    }
    assert.ok(fused.grads[i] && composed.grads[i], `${name}: gradient of input ${i}`);
    assertClose(fused.grads[i]!, composed.grads[i]!, tol.grad, `${name} gradient of input ${i}`);
  });
  return { fused, composed };
}

const F32: { fwd: Tol; grad: Tol } = { fwd: { rtol: 1e-5, atol: 1e-6 }, grad: { rtol: 1e-5, atol: 1e-6, scaleAtol: 1e-6 } };
const BF16: { fwd: Tol; grad: Tol } = { fwd: { ulps: 1 }, grad: { ulps: 2, scaleAtol: 2 ** -8 } };

function rnd(shape: number[], dtype: DType, scale = 1, shift = 0): Tensor {
  return randn(shape).mul(scale).add(shift).to(dtype);
}

test('fused rmsNorm equals the composed ops, forward and gradients, float32 and bfloat16', () => {
  tidy(() => {
    manualSeed(0);
    const shapes = [[1, 37], [5, 13, 48], [3, 100], [2, 4096]];
    for (const [xd, wd] of [['float32', 'float32'], ['bfloat16', 'bfloat16'], ['bfloat16', 'float32'], ['float32', 'bfloat16']] as DType[][]) {
      for (const shape of shapes) {
        for (const scale of [1, 1e3, 1e-3]) {
          const d = shape[shape.length - 1];
          const x = rnd(shape, xd, scale);
          const w = rnd([d], wd, 0.2, 1);
          const name = `rmsNorm ${xd} x, ${wd} w, [${shape}], scale ${scale}`;
          const tol = xd === 'bfloat16' || wd === 'bfloat16' ? BF16 : F32;
          const { fused, composed } = compare(name, rms(1e-6), [x, w], [true, true], tol);
          assert.equal(fused.out.dtype, xd === 'bfloat16' && wd === 'bfloat16' ? 'bfloat16' : 'float32', `${name}: output dtype`);
          if (xd === 'bfloat16') assert.ok(equalFraction(fused.out, composed.out) > 0.99, `${name}: nearly every value bit for bit`);
        }
      }
    }
  });
});

test('fused rmsNorm: non-contiguous input, one gradient only, and no gradient at all', () => {
  tidy(() => {
    manualSeed(1);
    for (const dtype of ['float32', 'bfloat16'] as DType[]) {
      const tol = dtype === 'float32' ? F32 : BF16;
      const xt = rnd([24, 6], dtype); // used as [6, 24] transposed: the last dim has stride 6
      const w = rnd([24], dtype, 0.2, 1);
      compare(`rmsNorm ${dtype} transposed`, rms(1e-5), [xt, w], [true, true], tol, ([a, b]) => [a.transpose(0, 1), b]);
      const wide = rnd([4, 50], dtype);
      compare(`rmsNorm ${dtype} narrowed`, rms(1e-5), [wide, rnd([20], dtype)], [true, true], tol, ([a, b]) => [a.narrow(1, 7, 20), b]);
      compare(`rmsNorm ${dtype} frozen weight`, rms(1e-5), [rnd([3, 16], dtype), w.narrow(0, 0, 16)], [true, false], tol);
      compare(`rmsNorm ${dtype} constant input`, rms(1e-5), [rnd([3, 16], dtype), w.narrow(0, 0, 16)], [false, true], tol);
      compare(`rmsNorm ${dtype} no gradient`, rms(1e-5), [rnd([3, 16], dtype), w.narrow(0, 0, 16)], [false, false], tol);
    }
  });
});

test('fused rotary equals the composed ops bit for bit, forward and gradient', () => {
  tidy(() => {
    manualSeed(2);
    for (const dtype of ['float32', 'bfloat16'] as DType[]) {
      const exact = { fwd: { atol: 0 }, grad: { atol: 0 } };
      for (const [b, nh, s, hd] of [[2, 3, 5, 8], [1, 1, 1, 10], [2, 4, 7, 64], [1, 2, 3, 34]]) {
        for (const scale of [1, 1e3, 1e-3]) {
          const cos = rnd([b, 1, s, hd], dtype);
          const sin = rnd([b, 1, s, hd], dtype);
          const name = `rotary ${dtype} [${b}, ${nh}, ${s}, ${hd}] scale ${scale}`;
          // As the attention calls it: [b, s, nh, hd] projections viewed as [b, nh, s, hd] (not contiguous).
          compare(name, rot, [rnd([b, s, nh, hd], dtype, scale), cos, sin], [true, false, false], exact, ([x, c, sn]) => [x.transpose(1, 2), c, sn]);
          compare(`${name} contiguous`, rot, [rnd([b, nh, s, hd], dtype, scale), cos, sin], [true, false, false], exact);
          // Tables broadcast over the batch too.
          compare(`${name} [s, hd] tables`, rot, [rnd([b, nh, s, hd], dtype, scale), cos.select(0, 0).select(0, 0), sin.select(0, 0).select(0, 0)], [true, false, false], exact);
        }
      }
    }
  });
});

test('rotary with tables that need a gradient takes the composed ops (impl 0), and the fused one refuses them', () => {
  tidy(() => {
    manualSeed(3);
    const x = randn([1, 2, 3, 8]).requiresGrad_(true);
    const cos = randn([1, 1, 3, 8]).requiresGrad_(true);
    const sin = randn([1, 1, 3, 8]);
    const out = wrap(native.rotary(x.handle, cos.handle, sin.handle, 0));
    out.sum().backward();
    assert.ok(cos.grad, 'cos gets its gradient');
    assert.ok(cos.grad!.sub(x.sum(1, true)).abs().max().item() < 1e-5, 'd sum(x cos) / d cos = sum over heads of x');
    assert.throws(() => native.rotary(x.handle, cos.handle, sin.handle, 2), (e: Error) => e instanceof TorchError && /cos or sin needs a gradient/.test(e.message));
  });
});

test('fused swiglu equals the composed ops, forward and gradients', () => {
  tidy(() => {
    manualSeed(4);
    for (const dtype of ['float32', 'bfloat16'] as DType[]) {
      const tol = dtype === 'float32' ? F32 : { fwd: { ulps: 2, scaleAtol: 2 ** -9 }, grad: BF16.grad };
      for (const shape of [[1, 37], [3, 5, 40], [2, 3000]]) {
        for (const scale of [1, 30, 1e-3]) {
          compare(`swiglu ${dtype} [${shape}] scale ${scale}`, glu, [rnd(shape, dtype, scale), rnd(shape, dtype)], [true, true], tol);
        }
      }
      const t = rnd([40, 6], dtype);
      compare(`swiglu ${dtype} transposed`, glu, [t, rnd([40, 6], dtype)], [true, true], tol, ([g, u]) => [g.transpose(0, 1), u.transpose(0, 1)]);
      compare(`swiglu ${dtype} frozen up`, glu, [rnd([4, 9], dtype), rnd([4, 9], dtype)], [true, false], tol);
      compare(`swiglu ${dtype} frozen gate`, glu, [rnd([4, 9], dtype), rnd([4, 9], dtype)], [false, true], tol);
    }
  });
});

test('other dtypes take the composed ops; the fused kernels refuse them', () => {
  tidy(() => {
    manualSeed(5);
    for (const dtype of ['float64', 'float16'] as DType[]) {
      const x = randn([3, 8]).to(dtype);
      const w = randn([8]).to(dtype);
      assert.equal(wrap(native.rmsNorm(x.handle, w.handle, 1e-6, 0)).sub(wrap(native.rmsNorm(x.handle, w.handle, 1e-6, 1))).abs().max().item(), 0);
      assert.throws(() => native.rmsNorm(x.handle, w.handle, 1e-6, 2), /fused rmsNorm cannot run: the dtypes are not float32 or bfloat16/);
      // (libtorch 1.13 has no float16 silu on the CPU: the composed op's own error is what float16 gets there.)
      if (dtype === 'float64') assert.equal(wrap(native.swiglu(x.handle, x.handle, 0)).sub(wrap(native.swiglu(x.handle, x.handle, 1))).abs().max().item(), 0);
      assert.throws(() => native.swiglu(x.handle, x.handle, 2), /fused swiglu cannot run/);
      assert.equal(wrap(native.rotary(x.handle, x.handle, x.handle, 0)).sub(wrap(native.rotary(x.handle, x.handle, x.handle, 1))).abs().max().item(), 0);
      assert.throws(() => native.rotary(x.handle, x.handle, x.handle, 2), /fused rotary cannot run/);
    }
    assert.throws(() => native.rmsNorm(randn([2, 4]).handle, randn([5]).handle, 1e-6, 2), /the weight is not/);
    assert.throws(() => native.rmsNorm(randn([2, 4]).handle, randn([4]).handle, 1e-6, 7), /unknown rmsNorm implementation code 7/);
  });
});

test("bfpo's own kernels run on libtorch's threads, with libtorch's single OpenMP runtime", { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  // Their parallel loops come inline from libtorch's headers: built without OpenMP they would run on one thread,
  // built against another OpenMP runtime than libtorch's they would run on a second thread pool.
  const threads = getNumThreads();
  try {
    setNumThreads(2);
    assert.equal(kernelThreads(), 2);
    setNumThreads(1);
    assert.equal(kernelThreads(), 1);
  } finally {
    setNumThreads(threads);
  }
  const runtimes = new Set(readFileSync('/proc/self/maps', 'utf8').split('\n')
    .map((l) => /\s(\/\S*\/lib(?:gomp|iomp5|omp)\b[^/\s]*\.so[.0-9]*)$/.exec(l)?.[1]).filter(Boolean)
    .map((p) => realpathSync(p as string)));
  assert.equal(runtimes.size, 1, `OpenMP runtimes loaded: ${[...runtimes].join(', ')}`);
});
