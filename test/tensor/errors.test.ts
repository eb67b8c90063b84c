// Every kind of engine failure is a TorchError or ArgumentError (never a crashed process) whose message names the
// op and describes its inputs (dtypes and shapes), or names the argument and the value received.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArgumentError, type DType, type Device, SGD, AdamW, TorchError, arange, cat, cuda, fromBuffer, full, ones, randint,
  randn, setNumThreads, stack, tensor, tidy, where, zeros, manualSeed,
} from 'bfpo';
import { clipGradNorm_, crossEntropy, dropout, embedding, linear, rmsNorm, setRngState } from 'bfpo/tensor';

/** Asserts that `fn` throws `cls` with a message matching every pattern. */
function fails(fn: () => unknown, cls: typeof TorchError | typeof ArgumentError, ...patterns: (RegExp | string)[]): void {
  tidy(() => {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof cls, `expected ${cls.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      for (const p of patterns) {
        if (typeof p === 'string') assert.ok(e.message.includes(p), `message "${e.message}" includes "${p}"`);
        else assert.match(e.message, p);
      }
      return true;
    });
  });
}

describe('wrong shapes', () => {
  test('matmul names both shapes', () => {
    fails(() => randn([2, 3]).matmul(randn([4, 5])), TorchError, 'matmul(float32[2,3], float32[4,5])', 'cannot be multiplied');
  });
  test('bmm of mismatched batches', () => {
    fails(() => randn([2, 3, 4]).bmm(randn([3, 4, 5])), TorchError, 'bmm(float32[2,3,4], float32[3,4,5])');
  });
  test('linear with the wrong in-features', () => {
    fails(() => linear(randn([2, 3]), randn([4, 5])), TorchError, 'linear(float32[2,3], float32[4,5], none)');
  });
  test('add of shapes that do not broadcast', () => {
    fails(() => randn([2, 3]).add(randn([4])), TorchError, 'add(float32[2,3], float32[4])', 'must match');
  });
  test('reshape to a different element count', () => {
    fails(() => randn([2, 3]).reshape(4, 2), TorchError, 'reshape(float32[2,3], (4, 2))', 'invalid for input of size 6');
  });
  test('view of a non-contiguous tensor', () => {
    fails(() => randn([2, 3]).t().view(6), TorchError, 'view(float32[3,2], (6))', 'reshape');
  });
  test('expand of a non-singleton dim', () => {
    fails(() => randn([2, 3]).expand(4, 3), TorchError, 'expand(float32[2,3], (4, 3))');
  });
  test('cat of mismatched sizes', () => {
    fails(() => cat([randn([2, 3]), randn([2, 4])]), TorchError, 'cat((float32[2,3], float32[2,4]), 0)');
  });
  test('stack of different shapes', () => {
    fails(() => stack([randn([2]), randn([3])]), TorchError, 'stack((float32[2], float32[3]), 0)');
  });
  test('where with a condition that does not broadcast', () => {
    fails(() => where(tensor([true, false]), randn([3]), 0), TorchError, 'where(bool[2], float32[3], 0)');
  });
  test('rmsNorm with a weight of the wrong size', () => {
    fails(() => rmsNorm(randn([2, 3]), randn([4])), TorchError, 'rmsNorm(float32[2,3], float32[4]');
  });
  test('crossEntropy with a target of the wrong length', () => {
    fails(() => crossEntropy(randn([3, 4]), tensor([0, 1])), TorchError, 'crossEntropy(float32[3,4], int64[2]');
  });
  test('split sizes that do not add up', () => {
    fails(() => randn([5]).split([2, 2]), TorchError, 'split(float32[5], (2, 2), 0)');
  });
});

describe('wrong dtypes', () => {
  test('bmm of float and int', () => {
    fails(() => randn([2, 3, 4]).bmm(ones([2, 4, 5], { dtype: 'int64' })), TorchError, 'bmm(float32[2,3,4], int64[2,4,5])');
  });
  test('matmul of float32 and bfloat16', () => {
    fails(() => randn([2, 3]).matmul(randn([3, 2], { dtype: 'bfloat16' })), TorchError, 'matmul(float32[2,3], bfloat16[3,2])');
  });
  test('embedding with float ids', () => {
    fails(() => embedding(randn([3]), randn([4, 2])), TorchError, 'embedding(float32[4,2], float32[3])', 'indices');
  });
  test('gather with a float index', () => {
    fails(() => randn([3, 4]).gather(1, randn([3, 1])), TorchError, 'gather(float32[3,4], 1, float32[3,1])');
  });
  test('crossEntropy with float targets of the wrong shape', () => {
    fails(() => crossEntropy(randn([3, 4]), randn([3])), TorchError, 'crossEntropy(float32[3,4], float32[3]');
  });
  test('an op without a kernel for the dtype', () => {
    // int64: libtorch 1.13 and 2.x both lack it (2.x added a float16 CPU kernel).
    fails(() => ones([3], { dtype: 'int64' }).silu(), TorchError, 'silu(int64[3])', "not implemented for 'Long'");
  });
  test('in-place op whose result cannot be cast back', () => {
    fails(() => ones([2], { dtype: 'int64' }).mul_(1.5), TorchError, 'mul_(int64[2], 1.5)', "can't be cast");
  });
  test('setRngState with a float tensor', () => {
    fails(() => setRngState(randn([3])), TorchError, 'setRngState(float32[3])', 'ByteTensor');
  });
});

describe('out-of-range indices', () => {
  test('indexSelect', () => {
    fails(() => randn([3, 4]).indexSelect(0, tensor([5])), TorchError, 'indexSelect(float32[3,4], 0, int64[1])', 'out of range');
  });
  test('gather', () => {
    fails(() => randn([3, 4]).gather(1, tensor([[9]])), TorchError, 'gather(float32[3,4], 1, int64[1,1])', 'index 9 is out of bounds');
  });
  test('scatter', () => {
    fails(() => randn([2, 3]).scatter(1, tensor([[5]]), 1.5), TorchError, 'scatter(float32[2,3], 1, int64[1,1], 1.5)');
  });
  test('narrow past the end', () => {
    fails(() => randn([3, 4]).narrow(1, 2, 5), TorchError, 'narrow(float32[3,4], 1, 2, 5)', 'exceeds dimension size');
  });
  test('select past the end', () => {
    fails(() => randn([3, 4]).select(0, 3), TorchError, 'select(float32[3,4], 0, 3)', 'out of range');
  });
  test('embedding id past the vocabulary', () => {
    fails(() => embedding(tensor([5]), randn([4, 2])), TorchError, 'embedding(float32[4,2], int64[1])', 'out of range');
  });
  test('crossEntropy target past the classes', () => {
    fails(() => crossEntropy(randn([2, 3]), tensor([0, 7])), TorchError, 'crossEntropy(float32[2,3], int64[2]', 'out of bounds');
  });
  test('topk with k larger than the dim', () => {
    fails(() => randn([3]).topk(5), TorchError, 'topk(float32[3], 5', 'out of range');
  });
  test('item of a tensor with several elements', () => {
    fails(() => randn([2]).item(), TorchError, 'item(float32[2])', 'one element');
  });
  test('multinomial with negative probabilities', () => {
    fails(() => tensor([-1, 0.5]).multinomial(1), TorchError, 'multinomial(float32[2], 1, false)');
  });
});

describe('bad dims', () => {
  test('reduction over a missing dim', () => {
    fails(() => randn([2, 3]).sum(5), TorchError, 'sum(float32[2,3], (5), false)', 'Dimension out of range');
  });
  test('softmax over a missing dim', () => {
    fails(() => randn([2, 3]).softmax(2), TorchError, 'softmax(float32[2,3], 2)', 'Dimension out of range');
  });
  test('transpose', () => {
    fails(() => randn([2, 3]).transpose(0, -3), TorchError, 'transpose(float32[2,3], 0, -3)');
  });
  test('permute with a repeated dim', () => {
    fails(() => randn([2, 3]).permute(0, 0), TorchError, 'permute(float32[2,3], (0, 0))', 'duplicate dims');
  });
  test('squeeze', () => {
    fails(() => randn([2, 3]).squeeze(4), TorchError, 'squeeze(float32[2,3], 4)');
  });
  test('cat along a missing dim', () => {
    fails(() => cat([randn([2]), randn([2])], 1), TorchError, 'cat((float32[2], float32[2]), 1)');
  });
  test('size(dim) outside the shape', () => {
    fails(() => randn([2, 3]).size(2), ArgumentError, 'Expected a dim in [-2, 1] for dim but received 2');
  });
  test('a fractional dim', () => {
    fails(() => randn([2, 3]).cumsum(0.5), ArgumentError, 'Expected an integer for dim but received 0.5');
  });
  test('split into pieces of size 0', () => {
    fails(() => randn([4]).split(0), ArgumentError, 'Expected a positive integer for split size but received 0');
  });
});

describe('use after dispose', () => {
  test('an op on a disposed tensor names the op and marks the input', () => {
    const x = randn([2, 3]);
    x.dispose();
    fails(() => x.exp(), TorchError, 'exp(<disposed tensor>)', 'already disposed');
    fails(() => randn([3, 2]).matmul(x), TorchError, 'matmul(float32[3,2], <disposed tensor>)', 'already disposed');
    fails(() => cat([x, randn([2, 3])]), TorchError, 'cat((<disposed tensor>, float32[2,3]), 0)', 'already disposed');
  });
  test('metadata of a disposed tensor', () => {
    const x = randn([2, 3]);
    void x.shape; // cached before dispose, still refused after
    x.dispose();
    fails(() => x.shape, ArgumentError, 'Tensor.shape: this tensor was already disposed');
    fails(() => x.dtype, ArgumentError, 'Tensor.dtype');
    fails(() => x.toArray(), ArgumentError, 'already disposed');
    fails(() => x.item(), TorchError, 'item(<disposed tensor>)');
    assert.equal(String(x), 'Tensor(<disposed>)');
  });
  test('a tensor disposed by a scope', () => {
    let escaped = randn([1]);
    escaped.dispose();
    tidy(() => {
      escaped = randn([2]);
    });
    fails(() => escaped.neg(), TorchError, 'neg(<disposed tensor>)');
  });
  test('an optimizer whose parameter was disposed', () => {
    const p = randn([2], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.1 });
    p.dispose();
    fails(() => opt.step(), TorchError, 'already disposed');
  });
});

describe('bad creation arguments', () => {
  test('negative or fractional shape', () => {
    fails(() => zeros([-1, 2]), ArgumentError, 'Expected an array of non-negative integers for shape but received [-1, 2]');
    fails(() => randn([1.5]), ArgumentError, 'received [1.5]');
    fails(() => full([-2], 1), ArgumentError, 'received [-2]');
  });
  test('unknown dtype', () => {
    fails(() => zeros([2], { dtype: 'float8' as DType }), ArgumentError, 'for dtype but received "float8"');
    fails(() => randn([2]).to('complex64' as DType), ArgumentError, 'for to(target) but received "complex64"');
  });
  test('unknown device', () => {
    fails(() => zeros([2], { device: 'tpu' as Device }), ArgumentError, "Expected 'cpu', 'cuda' or 'cuda:N' for device but received \"tpu\"");
  });
  test('cuda when libtorch has no CUDA', { skip: cuda.isAvailable() && 'CUDA is available here' }, () => {
    fails(() => zeros([2], { device: 'cuda' }), TorchError, "zeros((2), 'float32', 'cuda')", 'CUDA');
    // The long table of dispatcher backends is cut off.
    tidy(() => {
      try {
        zeros([2], { device: 'cuda' });
      } catch (e) {
        assert.ok(!(e as Error).message.includes('\n\n'), 'first paragraph only');
      }
    });
  });
  test('tensor data that is ragged or mixed', () => {
    fails(() => tensor([[1, 2], [3]]), ArgumentError, 'Expected an array of length 2 (the data must be rectangular) for tensor data[1] but received [3]');
    fails(() => tensor([1, true]), ArgumentError, 'Expected numbers or booleans, not a mix for tensor data');
    fails(() => tensor([1, 'a' as unknown as number]), ArgumentError, 'for tensor data[1] but received "a"');
  });
  test('typed array of a type libtorch lacks', () => {
    fails(() => tensor(new Uint32Array([1, 2]) as unknown as Int32Array), ArgumentError, 'for tensor data but received a Uint32Array');
  });
  test('typed array whose shape does not hold its values', () => {
    fails(() => tensor(new Float32Array(6), { shape: [4] }), ArgumentError, 'Expected 4 values for shape [4] for tensor data but received "6 values"');
  });
  test('randint, arange, manualSeed, setNumThreads ranges', () => {
    fails(() => randint(5, 2, [3]), ArgumentError, 'Expected integers low < high for randint(low, high) but received [5, 2]');
    fails(() => arange(0, 10, 0), ArgumentError, 'Expected a non-zero step for arange step but received 0');
    fails(() => arange(0, Number.POSITIVE_INFINITY), ArgumentError, 'Expected a finite number for arange end');
    fails(() => manualSeed(-1), ArgumentError, 'Expected a non-negative integer for manualSeed(seed) but received -1');
    fails(() => setNumThreads(0), ArgumentError, 'Expected a positive integer for setNumThreads(n) but received 0');
  });
  test('an allocation larger than memory', () => {
    fails(() => zeros([1e6, 1e6, 1e6]), TorchError, "zeros((1e+06, 1e+06, 1e+06), 'float32', 'cpu')", 'allocate');
  });
});

describe('autograd misuse', () => {
  test('backward on a non-scalar without a gradient', () => {
    const x = randn([2], { requiresGrad: true });
    fails(() => x.mul(2).backward(), TorchError, 'backward(float32[2], none, false)', 'only for scalar outputs');
    x.dispose();
  });
  test('backward with a gradient of the wrong shape', () => {
    const x = randn([2], { requiresGrad: true });
    fails(() => x.mul(2).backward(ones([3])), TorchError, 'backward(float32[2], float32[3], false)');
    x.dispose();
  });
  test('backward twice without retainGraph', () => {
    const x = randn([2], { requiresGrad: true });
    tidy(() => {
      const loss = x.exp().sum();
      loss.backward();
      fails(() => loss.backward(), TorchError, 'backward(float32[], none, false)', 'second time');
    });
    x.dispose();
  });
  test('backward of a tensor that does not require grad', () => {
    fails(() => randn([2]).sum().backward(), TorchError, 'backward(float32[]', 'does not require grad');
  });
  test('requiresGrad_ on an integer tensor', () => {
    fails(() => tensor([1, 2]).requiresGrad_(), ArgumentError, 'Expected a floating-point tensor for requiresGrad_ but received Tensor(int64[2])');
    fails(() => zeros([2], { dtype: 'int32', requiresGrad: true }), ArgumentError, 'Tensor(int32[2])');
  });
  test('in-place op on a leaf that requires grad', () => {
    const x = randn([2], { requiresGrad: true });
    fails(() => x.add_(1), TorchError, 'add_(float32[2], 1)', 'leaf Variable');
    x.dispose();
  });
  test('clipGradNorm_ with a bad limit', () => {
    fails(() => clipGradNorm_([], 0), ArgumentError, 'Expected a positive number for maxNorm but received 0');
    fails(() => clipGradNorm_([], 1, -2), ArgumentError, 'for normType but received -2');
  });
});

describe('bad optimizer and nn arguments', () => {
  test('optimizer hyper-parameters', () => {
    const p = randn([2], { requiresGrad: true });
    assert.throws(() => new AdamW([p], { lr: -1 }), /Expected a non-negative number for lr in options but received -1/);
    assert.throws(() => new AdamW([p], { betas: [1, 0.9] }), /Expected betas \[b1, b2\] in \[0, 1\) for betas in options/);
    assert.throws(() => new SGD([p], { lr: 0.1, nesterov: true }), /Expected momentum > 0 and dampening 0 for nesterov/);
    assert.throws(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 }), /appears in more than one group/);
    assert.throws(() => new SGD([tensor([1, 2])], { lr: 0.1 }), /Expected a floating-point tensor for params\[0\] of group 0/);
    assert.throws(() => new SGD([], { lr: 0.1 }), ArgumentError);
    p.dispose();
  });
  test('dropout probability and crossEntropy reduction', () => {
    fails(() => dropout(randn([2]), 1.5), ArgumentError, 'Expected a probability in [0, 1] for dropout p but received 1.5');
    fails(() => crossEntropy(randn([2, 3]), tensor([0, 1]), { reduction: 'avg' as 'mean' }), ArgumentError,
      "Expected 'none', 'mean' or 'sum' for crossEntropy reduction but received \"avg\"");
  });
  test('clamp without bounds', () => {
    fails(() => randn([2]).clamp(), ArgumentError, 'clamp needs at least one of min and max');
  });
  test('a non-tensor operand', () => {
    fails(() => randn([2]).add('1' as unknown as number), ArgumentError, 'Expected a Tensor, number or boolean for add but received "1"');
    fails(() => cat([]), ArgumentError, 'Expected a non-empty array of tensors for cat(tensors) but received []');
  });
});

describe('bytes in', () => {
  test('fromBuffer byte range outside the buffer', () => {
    const buf = Buffer.alloc(8);
    fails(() => fromBuffer(buf, { dtype: 'float32', shape: [2], byteOffset: 4 }), ArgumentError,
      'Expected a byte range inside the buffer of 8 bytes for fromBuffer float32[2] (8 bytes) but received "bytes [4, 12)"');
    fails(() => fromBuffer(buf, { dtype: 'float64', shape: [2] }), ArgumentError, 'fromBuffer float64[2] (16 bytes)');
    fails(() => fromBuffer(buf, { dtype: 'float32', shape: [1], byteOffset: -4 }), ArgumentError, 'Expected a non-negative integer for fromBuffer byteOffset but received -4');
    fails(() => fromBuffer(buf, { dtype: 'float32', shape: [1], byteOffset: 1.5 }), ArgumentError, 'received 1.5');
  });
  test('fromBuffer of a view honours the view\'s own length', () => {
    const view = new Uint8Array(new ArrayBuffer(16), 4, 8);
    fails(() => fromBuffer(view, { dtype: 'float32', shape: [3] }), ArgumentError, 'inside the buffer of 8 bytes');
  });
  test('fromBuffer of something that is not bytes', () => {
    fails(() => fromBuffer([1, 2] as unknown as Buffer, { dtype: 'uint8', shape: [2] }), ArgumentError,
      'Expected a Buffer, TypedArray or ArrayBuffer for fromBuffer(buffer) but received [1, 2]');
    fails(() => fromBuffer(Buffer.alloc(4), { dtype: 'int4' as DType, shape: [1] }), ArgumentError, 'for dtype but received "int4"');
    fails(() => fromBuffer(Buffer.alloc(4), { dtype: 'uint8', shape: [-4] }), ArgumentError, 'for fromBuffer shape but received [-4]');
  });
});

test('the process survives a burst of failing calls', () => {
  for (let i = 0; i < 200; i++) {
    fails(() => randn([2, 3]).matmul(randn([2, 3])), TorchError, 'matmul');
  }
});
