// Every Tensor op against PyTorch: values, dtypes, shapes and gradients from test/fixtures/tensor/ops.json
// (made by scripts/fixtures/torch_ops.py, which documents how each number was produced).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as bfpo from 'bfpo';
import { Tensor, TorchError, manualSeed, tidy } from 'bfpo';
import { type EncodedTensor, assertTensor, decodeTensor, loadFixture, num } from './fixture.js';

interface Case {
  name: string;
  kind: 'fn' | 'method' | 'inplace';
  op: string;
  args: unknown[];
  seed?: number;
  tol?: number;
  outKind?: 'tensor' | 'list' | 'value';
  out?: (EncodedTensor | boolean)[];
  weights?: (EncodedTensor | null)[];
  grads?: (EncodedTensor | null)[];
  error?: string;
}

const fixture = loadFixture<{ torch: string; cases: Case[] }>('ops.json');
type Fn = (...args: unknown[]) => unknown;
const api = bfpo as unknown as Record<string, Fn>;

/** Ops whose results must match PyTorch bit for bit (conversions and creation). */
const EXACT = new Set(['tensor', 'to', 'half', 'bfloat16', 'float', 'double', 'long', 'int', 'bool', 'zeros', 'ones', 'full']);

/** Turns fixture arguments into call arguments; tensors are collected in `leaves` in traversal order. */
function decode(a: unknown, leaves: Tensor[]): unknown {
  if (a === null) return undefined;
  if (Array.isArray(a)) return a.map((x) => decode(x, leaves));
  if (typeof a === 'object') {
    const o = a as Record<string, unknown>;
    if ('$t' in o) {
      const t = decodeTensor(o.$t as EncodedTensor);
      leaves.push(t);
      return t;
    }
    if ('$f' in o) return num(o.$f as string);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, decode(v, leaves)]));
  }
  return a;
}

function call(c: Case, args: unknown[]): unknown {
  if (c.seed !== undefined) manualSeed(c.seed);
  if (c.kind === 'fn') {
    assert.equal(typeof api[c.op], 'function', `bfpo exports ${c.op}`);
    return api[c.op](...args);
  }
  let self = args[0] as Tensor;
  if (c.kind === 'inplace') self = self.clone();
  const method = (self as unknown as Record<string, Fn>)[c.op];
  assert.equal(typeof method, 'function', `Tensor has a method ${c.op}`);
  const r = method.apply(self, args.slice(1));
  if (c.kind === 'inplace') assert.equal(r, self, `${c.op} returns this`);
  return r;
}

function outputs(r: unknown): Tensor[] {
  if (r instanceof Tensor) return [r];
  if (Array.isArray(r)) return r as Tensor[];
  const o = r as { values: Tensor; indices: Tensor };
  assert.ok(o.values instanceof Tensor && o.indices instanceof Tensor, 'result is { values, indices }');
  return [o.values, o.indices];
}

function runCase(c: Case): void {
  const leaves: Tensor[] = [];
  const args = (c.args.map((a) => decode(a, leaves)));
  if (c.error !== undefined) {
    assert.throws(() => call(c, args), (e: unknown) => {
      assert.ok(e instanceof TorchError, `expected a TorchError, got ${String(e)}`);
      assert.ok(e.message.includes(c.error as string), `message "${e.message}" contains PyTorch's "${c.error}"`);
      return true;
    });
    return;
  }
  if (c.grads) for (const t of leaves) if (t.dtype.startsWith('float') || t.dtype === 'bfloat16') t.requiresGrad_(true);
  const r = call(c, args);
  if (c.outKind === 'value') {
    assert.equal(r, c.out?.[0]);
    return;
  }
  const outs = outputs(r);
  const expectedOuts = c.out as EncodedTensor[];
  assert.equal(outs.length, expectedOuts.length, 'number of outputs');
  const low = (dt: string) => dt === 'float16' || dt === 'bfloat16';
  outs.forEach((o, i) => {
    const e = expectedOuts[i];
    const rtol = c.tol ?? (low(e.dtype) ? 1e-2 : e.dtype === 'float64' ? 1e-12 : 1e-5);
    assertTensor(o, e, `output ${i}`, { rtol, atol: rtol }, EXACT.has(c.op));
  });
  if (!c.grads || !c.weights) return;
  let loss: Tensor | null = null;
  c.weights.forEach((w, i) => {
    if (w === null) return;
    const term = outs[i].to('float32').mul(decodeTensor(w)).sum();
    loss = loss === null ? term : loss.add(term);
  });
  assert.ok(loss !== null);
  (loss as Tensor).backward();
  leaves.forEach((t, i) => {
    const want = c.grads?.[i] ?? null;
    const g = t.requiresGrad ? t.grad : null;
    if (want === null) {
      assert.equal(g, null, `input ${i} gets no gradient`);
      return;
    }
    assert.ok(g !== null, `input ${i} has a gradient`);
    const rtol = c.tol ?? (low(want.dtype) ? 2e-2 : want.dtype === 'float64' ? 1e-10 : 1e-5);
    assertTensor(g, want, `grad of input ${i}`, { rtol, atol: rtol });
  });
}

describe(`Tensor ops against PyTorch ${fixture.torch}`, () => {
  for (const c of fixture.cases) {
    test(c.name, () => {
      tidy(() => runCase(c));
    });
  }
});

test('the fixture covers every Tensor method', () => {
  const covered = new Set(fixture.cases.map((c) => c.op));
  // Methods checked elsewhere (metadata, reading back, autograd plumbing, devices) or aliases of covered ones.
  const elsewhere = new Set([
    'constructor', 'handle', 'shape', 'dtype', 'device', 'ndim', 'dim', 'size', 'numel', 'isDisposed', 'isContiguous',
    'dispose', 'toString', 'item', 'toBuffer', 'toTypedArray', 'toArray', 'cpu', 'cuda', 'requiresGrad',
    'requiresGrad_', 'isLeaf', 'grad', 'backward', 'detach',
  ]);
  const names = Object.getOwnPropertyNames(Tensor.prototype).filter((n) => !elsewhere.has(n));
  const missing = names.filter((n) => !covered.has(n));
  assert.deepEqual(missing, []);
});
