// A Llama on CUDA against the same model on the CPU: float32 logits and gradients within 1e-4 (eager and sdpa
// attention), bfloat16 logits within bfloat16's precision, the device generator's state round trip, and the GPU's
// memory as the driver reports it. Skips with the reason where no CUDA device is usable.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cuda, manualSeed, noGrad, randn, tensor, tidy, type Tensor } from '../../src/index.js';
import { fastPaths, getRngState, setRngState } from '../../src/tensor/index.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { parseConfig } from '../../src/models/config.js';
import { noCudaReason } from './reason.js';

const CONFIG = parseConfig({
  architectures: ['MistralForCausalLM'], model_type: 'mistral', vocab_size: 97, hidden_size: 64, intermediate_size: 160,
  num_hidden_layers: 3, num_attention_heads: 8, num_key_value_heads: 2, max_position_embeddings: 128, rms_norm_eps: 1e-5,
  sliding_window: 6, tie_word_embeddings: false,
});
const IDS = [[5, 9, 14, 3, 77, 2, 41, 8, 0, 0], [0, 0, 0, 12, 13, 14, 15, 16, 17, 18]];
const MASK = [[1, 1, 1, 1, 1, 1, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]];
const flat = (t: Tensor): number[] => Array.from(t.float().cpu().toTypedArray() as Float32Array);
const maxAbs = (a: number[], b: number[]): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** Logits on real positions and every parameter gradient of a squared-logits loss, on `device`. */
function run(device: 'cpu' | 'cuda', attention: 'eager' | 'sdpa', dtype: 'float32' | 'bfloat16' = 'float32'): { logits: number[]; grads: number[] } {
  manualSeed(21);
  const m = new LlamaForCausalLM(CONFIG).to(dtype).to(device);
  m.attention = attention;
  try {
    return tidy(() => {
      const mask = tensor(MASK, { dtype: 'int64', device });
      const { logits } = m.forward(tensor(IDS, { dtype: 'int64', device }), { attentionMask: mask });
      const real = logits.float().mul(mask.unsqueeze(2).to('float32'));
      real.square().mean().backward();
      return { logits: flat(real), grads: m.namedParameters().flatMap(([, p]) => flat(p.grad as Tensor)) };
    });
  } finally {
    m.dispose();
  }
}

describe('a Llama on CUDA', { skip: noCudaReason }, () => {
  for (const attention of ['eager', 'sdpa'] as const) {
    test(`float32 logits and gradients equal the CPU's within 1e-4 (${attention} attention)`, { skip: attention === 'sdpa' && !fastPaths().sdpa && 'no sdpa in this libtorch' }, () => {
      const cpu = run('cpu', 'eager');
      const gpu = run('cuda', attention);
      assert.ok(maxAbs(cpu.logits, gpu.logits) <= 1e-4, `logits ${maxAbs(cpu.logits, gpu.logits)}`);
      const scale = cpu.grads.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      assert.ok(maxAbs(cpu.grads, gpu.grads) <= 1e-4 * Math.max(1, scale), `gradients ${maxAbs(cpu.grads, gpu.grads)} (largest ${scale})`);
    });
  }

  test('bfloat16 logits on CUDA stay within bfloat16 precision of the float32 CPU logits', () => {
    const cpu = run('cpu', 'eager');
    const gpu = run('cuda', 'eager', 'bfloat16');
    const scale = cpu.logits.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    // 3 layers of bfloat16 (8-bit mantissa) products: a few units of 2^-8 of the largest logit.
    assert.ok(maxAbs(cpu.logits, gpu.logits) <= 0.05 * scale, `bf16 logits ${maxAbs(cpu.logits, gpu.logits)} of ${scale}`);
  });

  test("the CUDA generator's state saves and restores, apart from the CPU's", () => tidy(() => {
    manualSeed(3);
    const state = getRngState('cuda:0');
    const a = flat(randn([6], { device: 'cuda' }));
    const cpuBefore = flat(randn([2]));
    setRngState(state, 'cuda:0');
    assert.deepEqual(flat(randn([6], { device: 'cuda' })), a);
    assert.notDeepEqual(flat(randn([2])), cpuBefore, 'the CPU generator was not touched');
    assert.equal(state.device, 'cpu');
  }));

  test('the driver reports the GPU memory, and a large tensor shows in it', () => {
    const before = cuda.memoryInfo(0);
    assert.ok(before && before.total > 0 && before.free <= before.total, JSON.stringify(before));
    const big = noGrad(() => randn([64, 1024, 1024], { device: 'cuda' })); // 256 MiB
    cuda.synchronize();
    const after = cuda.memoryInfo(0)!;
    assert.ok(before!.free - after.free >= 200 * 2 ** 20, `free went from ${before!.free} to ${after.free}`);
    big.dispose();
  });
});
