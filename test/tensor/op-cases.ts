// Runs one case of test/fixtures/tensor/ops.json (made by scripts/fixtures/torch_ops.py) on a device: builds the
// inputs, calls the bfpo op, compares outputs and gradients of a weighted sum of the outputs with PyTorch's.
import assert from 'node:assert/strict';
import * as bfpo from 'bfpo/tensor';
import { type Device, Tensor, TorchError, manualSeed } from 'bfpo';
import { type EncodedTensor, assertTensor, decodeTensor, loadFixture, num } from './fixture.js';

export interface Case {
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

export const fixture = loadFixture<{ torch: string; cases: Case[] }>('ops.json');
type Fn = (...args: unknown[]) => unknown;
const api = bfpo as unknown as Record<string, Fn>;

/** Ops whose results must match PyTorch bit for bit (conversions and creation). */
const EXACT = new Set(['tensor', 'to', 'half', 'bfloat16', 'float', 'double', 'long', 'int', 'bool', 'zeros', 'ones', 'full']);

/** Turns fixture arguments into call arguments; tensors are collected in `leaves` in traversal order. */
function decode(a: unknown, leaves: Tensor[], device: Device): unknown {
  if (a === null) return undefined;
  if (Array.isArray(a)) return a.map((x) => decode(x, leaves, device));
  if (typeof a === 'object') {
    const o = a as Record<string, unknown>;
    if ('$t' in o) {
      let t = decodeTensor(o.$t as EncodedTensor);
      if (device !== 'cpu') t = t.to(device);
      leaves.push(t);
      return t;
    }
    if ('$f' in o) return num(o.$f as string);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, decode(v, leaves, device)]));
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

/**
 * Checks case `c` on `device`. Off the CPU, kernels differ (summation order, fused math), so `looser` widens the
 * float32 tolerance; 16-bit results are compared to 1e-2 either way.
 */
export function runCase(c: Case, device: Device = 'cpu', looser = 1): void {
  const leaves: Tensor[] = [];
  const args = c.args.map((a) => decode(a, leaves, device));
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
    const rtol = c.tol ?? (low(e.dtype) ? 1e-2 : e.dtype === 'float64' ? 1e-12 * looser : 1e-5 * looser);
    if (device !== 'cpu' && leaves.length > 0) assert.ok(o.device.startsWith('cuda'), `output ${i} stays on ${device}`);
    assertTensor(o, e, `output ${i}`, { rtol, atol: rtol }, EXACT.has(c.op));
  });
  if (!c.grads || !c.weights) return;
  let loss: Tensor | null = null;
  c.weights.forEach((w, i) => {
    if (w === null) return;
    const weight = device === 'cpu' ? decodeTensor(w) : decodeTensor(w).to(device);
    const term = outs[i].to('float32').mul(weight).sum();
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
    const rtol = c.tol ?? (low(want.dtype) ? 2e-2 : want.dtype === 'float64' ? 1e-10 * looser : 1e-5 * looser);
    assertTensor(g, want, `grad of input ${i}`, { rtol, atol: rtol });
  });
}
