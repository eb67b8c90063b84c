// Devices: moving between cpu and cuda, every fixture op on cuda against PyTorch's CPU results, and an optimizer
// step on cuda against the same step on cpu. Tests that need CUDA skip themselves when it is absent.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AdamW, TorchError, cuda, fromBuffer, manualSeed, memoryStats, randint, randn, tensor, tidy, zeros,
} from 'bfpo';
import { clipGradNorm_, crossEntropy, linear } from 'bfpo/tensor';
import { fixture, runCase } from './op-cases.js';

const noCuda = !cuda.isAvailable() && 'CUDA is not available to this libtorch';

test('cuda queries answer without a GPU', () => {
  assert.equal(typeof cuda.isAvailable(), 'boolean');
  assert.equal(cuda.deviceCount() > 0, cuda.isAvailable());
});

test('tensors start on the cpu', () => tidy(() => {
  const t = randn([2]);
  assert.equal(t.device, 'cpu');
  assert.equal(t.cpu().device, 'cpu');
}));

describe('on cuda', { skip: noCuda }, () => {
  test('move to cuda and back keeps values, dtype and shape', () => tidy(() => {
    for (const dtype of ['float32', 'bfloat16', 'float16', 'int64', 'int32', 'bool', 'uint8'] as const) {
      const c = tensor([[1, 0, 3], [4, 5, 0]], { dtype });
      const g = c.to('cuda');
      assert.equal(g.device, 'cuda:0');
      assert.equal(g.dtype, dtype);
      assert.deepEqual(g.shape, [2, 3]);
      const back = g.cpu();
      assert.equal(back.device, 'cpu');
      assert.ok(back.toBuffer().equals(c.toBuffer()), dtype);
      assert.deepEqual(g.toArray(), c.toArray(), 'toArray reads from the device');
    }
    assert.equal(randn([2]).cuda().device, 'cuda:0');
    assert.equal(zeros([2], { device: 'cuda' }).device, 'cuda:0');
    assert.equal(fromBuffer(Buffer.alloc(8), { dtype: 'float32', shape: [2], device: 'cuda' }).device, 'cuda:0');
    assert.deepEqual(tensor([1.5, 2], { device: 'cuda:0' }).toArray(), [1.5, 2]);
  }));

  test('device memory is not reported as host bytes', () => tidy(() => {
    const before = memoryStats().hostBytes;
    const g = zeros([1024], { device: 'cuda' });
    assert.equal(memoryStats().hostBytes, before);
    g.dispose();
  }));

  test('mixing devices is a TorchError that names both inputs', () => tidy(() => {
    assert.throws(() => randn([2, 2]).matmul(randn([2, 2]).cuda()), (e: unknown) =>
      e instanceof TorchError && e.message.includes('matmul(float32[2,2], float32[2,2]@cuda:0)'));
  }));

  describe('every fixture op on cuda equals PyTorch on cpu', () => {
    const CUDA_GAPS = new Set(['matmul int64']);
    // Seeded draws use another generator on the device, and error cases name CPU kernels.
    for (const c of fixture.cases.filter((k) => k.seed === undefined && k.error === undefined)) {
      test(c.name, (t) => tidy(() => {
        try {
          runCase(c, 'cuda', 20);
        } catch (e) {
          // Integer matrix products have no CUDA kernel in PyTorch; a TorchError is the right answer there.
          if (!(CUDA_GAPS.has(c.name) && e instanceof TorchError)) throw e;
          t.diagnostic(`not supported on cuda: ${e.message}`);
        }
      }));
    }
  });

  test('an AdamW step with clipping on cuda matches the same step on cpu', () => {
    manualSeed(3);
    const init = [randn([8, 4]), randn([8]), randn([3, 8]), randn([3])];
    const x = randn([6, 4]);
    const y = randint(0, 3, [6]);
    const run = (device: 'cpu' | 'cuda'): number[][] => {
      // clone(): on the cpu, to('cpu') returns a handle on the same tensor, which training would change.
      const params = init.map((p) => p.clone().to(device).requiresGrad_(true));
      const opt = new AdamW(params, { lr: 0.01, weightDecay: 0.1 });
      const [xd, yd] = [x.to(device), y.to(device)];
      for (let s = 0; s < 5; s++) {
        tidy(() => {
          opt.zeroGrad();
          crossEntropy(linear(linear(xd, params[0], params[1]).silu(), params[2], params[3]), yd).backward();
          clipGradNorm_(params, 0.5);
          opt.step();
        });
      }
      const out = params.map((p) => Array.from(p.toTypedArray() as Float32Array));
      opt.dispose();
      for (const t of [...params, xd, yd]) t.dispose();
      return out;
    };
    const cpu = run('cpu');
    const gpu = run('cuda');
    cpu.forEach((p, i) => p.forEach((v, j) => assert.ok(Math.abs(v - gpu[i][j]) <= 1e-4 + 1e-4 * Math.abs(v), `param ${i}[${j}]: ${v} vs ${gpu[i][j]}`)));
    for (const t of [...init, x, y]) t.dispose();
  });

  test('seeded draws on cuda repeat', () => tidy(() => {
    manualSeed(11);
    const a = randn([5], { device: 'cuda' });
    manualSeed(11);
    const b = randn([5], { device: 'cuda' });
    assert.ok(a.toBuffer().equals(b.toBuffer()));
  }));
});
