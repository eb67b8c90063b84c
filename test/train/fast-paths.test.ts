// The fast paths against the plain ones: libtorch's scaled_dot_product_attention against the eager products (model
// logits and gradients, padding and grouped heads), fused AdamW against the plain update, and bf16 compute (bf16
// weights and matmuls, float32 log-softmax and loss, fp32 master weights) against float32. Paths this libtorch lacks
// skip with the reason; their fallbacks are checked here instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, buildInfo, cuda, manualSeed, noGrad, randint, randn, tensor, tidy, type Tensor } from '../../src/index.js';
import { fastPaths, scaledDotProductAttention } from '../../src/tensor/index.js';
import { ArgumentError } from '../../src/errors.js';
import { LlamaForCausalLM, checkAttentionImplementation } from '../../src/models/llama.js';
import { parseConfig } from '../../src/models/config.js';
import { rowLogps, scoredPositions } from '../../src/losses/logps.js';
import { fusedAdamwAvailable } from '../../src/optim/adam.js';

const version = buildInfo().torchVersion;
const noSdpa = !fastPaths().sdpa && `libtorch ${version} has no scaled_dot_product_attention (it came with 2.0)`;
const devices: ('cpu' | 'cuda')[] = cuda.isAvailable() ? ['cpu', 'cuda'] : ['cpu'];

function tinyLlama(seed: number): LlamaForCausalLM {
  manualSeed(seed);
  return new LlamaForCausalLM(parseConfig({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 23, hidden_size: 32, intermediate_size: 48,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5,
  }));
}

const maxAbs = (a: number[], b: number[]): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const flat = (t: Tensor): number[] => Array.from(t.float().cpu().toTypedArray() as Float32Array);

// [3, 7] with right padding, left padding and a full row.
const IDS = [[1, 5, 9, 2, 0, 0, 0], [0, 0, 3, 4, 8, 1, 2], [7, 7, 6, 5, 4, 3, 2]];
const MASK = [[1, 1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]];

test('sdpa attention equals the eager products (grouped heads, padding, every query)', { skip: noSdpa }, () => {
  for (const device of devices) tidy(() => {
    manualSeed(1);
    const q = randn([2, 4, 5, 8], { device });
    const k = randn([2, 2, 5, 8], { device });
    const v = randn([2, 2, 5, 8], { device });
    const blocked = tensor([[0, 0, 1, 1, 1], [0, 0, 0, 0, 0]], { dtype: 'bool', device }).view(2, 1, 1, 5).logicalOr(
      tensor([...Array(5)].map((_, i) => [...Array(5)].map((__, j) => j > i)), { dtype: 'bool', device }).view(1, 1, 5, 5));
    const eager = scaledDotProductAttention(q, k, v, { blocked, scale: 0.3, kernel: 'eager' });
    const sdpa = scaledDotProductAttention(q, k, v, { blocked, scale: 0.3, kernel: 'sdpa' });
    // Row 0's last two queries see keys 0..1 only; every query sees at least one key.
    assert.ok(maxAbs(flat(eager), flat(sdpa)) < 1e-5, `${device}: ${maxAbs(flat(eager), flat(sdpa))}`);
  });
});

test('a Llama with sdpa attention gives the eager logits and gradients', { skip: noSdpa }, () => {
  for (const device of devices) {
    const run = (kernel: 'eager' | 'sdpa'): { logits: number[]; grads: number[] } => {
      const m = tinyLlama(3).to(device);
      m.attention = kernel;
      try {
        return tidy(() => {
          const ids = tensor(IDS, { dtype: 'int64', device });
          const mask = tensor(MASK, { dtype: 'int64', device });
          const { logits } = m.forward(ids, { attentionMask: mask });
          // The loss reads real positions only (padding rows' outputs are meaningless in either kernel).
          const real = logits.mul(mask.unsqueeze(2).to('float32'));
          real.square().mean().backward();
          const grads = m.namedParameters().flatMap(([, p]) => flat(p.grad as Tensor));
          return { logits: flat(real), grads };
        });
      } finally {
        m.dispose();
      }
    };
    const a = run('eager');
    const b = run('sdpa');
    assert.ok(maxAbs(a.logits, b.logits) < 1e-5, `${device} logits ${maxAbs(a.logits, b.logits)}`);
    assert.ok(maxAbs(a.grads, b.grads) < 1e-5, `${device} gradients ${maxAbs(a.grads, b.grads)}`);
  }
});

test('asking for sdpa on a libtorch without it is an error that says what to do', { skip: !noSdpa && `libtorch ${version} has sdpa` }, () => {
  assert.throws(() => checkAttentionImplementation('sdpa', 'attn_implementation'), (e: unknown) => e instanceof ArgumentError &&
    e.message.startsWith(`attn_implementation sdpa needs libtorch 2.0 or newer (scaled_dot_product_attention); this addon was built against libtorch ${version}`) &&
    e.message.includes('docs/gpu.md'));
  assert.equal(checkAttentionImplementation('auto'), 'auto');
  assert.throws(() => checkAttentionImplementation('flash'), /Expected one of auto, eager, sdpa for attention but received "flash"/);
  // auto falls back to the eager products: the same numbers as eager.
  const m = tinyLlama(4);
  try {
    const out = (kernel: 'auto' | 'eager') => tidy(() => { m.attention = kernel; return flat(noGrad(() => m.forward(tensor(IDS, { dtype: 'int64' }), { attentionMask: tensor(MASK, { dtype: 'int64' }) }).logits)); });
    assert.deepEqual(out('auto'), out('eager'));
  } finally {
    m.dispose();
  }
});

/** Five AdamW steps with weight decay on a small regression, the parameters after them. */
function adamwRun(device: 'cpu' | 'cuda', fused: boolean): number[] {
  manualSeed(5);
  const init = [randn([6, 4]), randn([6]), randn([2, 6])];
  const x = randn([8, 4]);
  const y = randn([8, 2]);
  const params = init.map((p) => p.to(device).clone().requiresGrad_(true));
  const opt = new AdamW(params, { lr: 0.05, weightDecay: 0.1, fused });
  for (let s = 0; s < 5; s++) {
    tidy(() => {
      opt.zeroGrad();
      const h = x.to(device).matmul(params[0].t()).add(params[1]).tanh();
      h.matmul(params[2].t()).sub(y.to(device)).square().mean().backward();
      opt.step();
    });
  }
  const out = params.flatMap(flat);
  opt.dispose();
  for (const t of [...init, ...params, x, y]) t.dispose();
  return out;
}

for (const device of devices) {
  const why = !fusedAdamwAvailable(device) && `libtorch ${version} has no fused AdamW kernel for ${device} tensors (CUDA from 2.0, CPU from 2.4)`;
  test(`fused AdamW on ${device} matches the plain update`, { skip: why }, () => {
    const d = maxAbs(adamwRun(device, false), adamwRun(device, true));
    assert.ok(d < 1e-5, `max difference ${d}`);
  });
  test(`AdamW fused: true falls back to the plain update on ${device} where the kernel is missing`, { skip: !why && 'the fused kernel exists here' }, () => {
    assert.deepEqual(adamwRun(device, true), adamwRun(device, false));
  });
}

test('bf16 compute: bfloat16 weights and matmuls, float32 log-softmax and log-probs, close to the float32 model', () => {
  const m32 = tinyLlama(6);
  const m16 = tinyLlama(6).to('bfloat16');
  try {
    tidy(() => noGrad(() => {
      manualSeed(7);
      const ids = randint(1, 23, [4, 12]);
      const labels = ids.clone();
      labels.narrow(1, 0, 4).fill_(-100);
      const mask = tensor(Array(4).fill(Array(12).fill(1)), { dtype: 'int64' });
      const logps = (m: LlamaForCausalLM) => {
        const pos = scoredPositions(labels);
        const out = m.forward(ids, { attentionMask: mask, rows: pos.rows });
        return { dtype: out.logits.dtype, ...rowLogps(out, labels, pos, false) };
      };
      const a = logps(m32);
      const b = logps(m16);
      assert.equal(b.dtype, 'bfloat16', 'the matmuls ran in bfloat16');
      assert.equal(b.logps.dtype, 'float32', 'log-softmax and the sum over tokens ran in float32');
      const [x, y] = [flat(a.logps), flat(b.logps)];
      // 8 tokens a row, each log-prob off by about bfloat16's relative precision (2^-8) of the logits.
      x.forEach((v, i) => assert.ok(Math.abs(v - y[i]) <= 0.05 * Math.abs(v) + 0.05, `row ${i}: ${v} vs ${y[i]}`));
    }));
  } finally {
    m32.dispose();
    m16.dispose();
  }
});
