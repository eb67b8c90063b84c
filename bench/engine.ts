// Engine benchmark: matmul GFLOP/s and an MLP training step, each next to the same work in PyTorch (same
// machine, same run, same thread count), printed as a ratio (ours / PyTorch's speed; >= 1 means as fast).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { AdamW, getNumThreads, manualSeed, randn, tidy, zeros, type Tensor } from 'bfpo';
import { linear } from 'bfpo/tensor';
import { medianSeconds, pythonWithTorch, type BenchRow } from './util.js';

function matmulGflops(dtype: 'float32' | 'bfloat16', n: number): number {
  const a = tidy(() => randn([n, n]).to(dtype));
  const b = tidy(() => randn([n, n]).to(dtype));
  let reps = n === 1024 ? 10 : 4;
  if (dtype === 'bfloat16') reps = Math.max(2, Math.floor(reps / 2));
  const t = medianSeconds(() => tidy(() => { a.mm(b); }), 1, reps);
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / t / 1e9;
}

function mlpStepMs(): number {
  const [batch, dim, hidden] = [64, 512, 2048];
  const x = randn([batch, dim]);
  const y = randn([batch, dim]);
  const w1 = tidy(() => randn([hidden, dim]).mul(0.02)).requiresGrad_();
  const b1 = zeros([hidden]).requiresGrad_();
  const w2 = tidy(() => randn([dim, hidden]).mul(0.02)).requiresGrad_();
  const b2 = zeros([dim]).requiresGrad_();
  const opt = new AdamW([w1, b1, w2, b2], { lr: 1e-3 });
  const step = (): void => tidy(() => {
    const h = linear(x, w1, b1).gelu();
    const loss = linear(h, w2, b2).sub(y).square().mean();
    loss.backward();
    opt.step();
    opt.zeroGrad();
  });
  const t = medianSeconds(step, 3, 30) * 1e3;
  for (const p of [x, y, w1, b1, w2, b2]) p.dispose();
  opt.dispose();
  return t;
}

export async function benchEngine(): Promise<BenchRow[]> {
  manualSeed(0);
  const threads = getNumThreads();
  const python = pythonWithTorch();
  let ref: { torch: string; matmul: Record<string, number>; mlpStepMs: number } | null = null;
  if (python) {
    const r = spawnSync(python, [join(import.meta.dirname ?? '.', 'torch_engine.py'), String(threads)], { encoding: 'utf8' });
    if (r.status === 0) ref = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    else console.error(`PyTorch reference failed: ${r.stderr}`);
  }
  const rows: BenchRow[] = [];
  for (const dtype of ['float32', 'bfloat16'] as const) {
    for (const n of [1024, 2048]) {
      const ours = matmulGflops(dtype, n);
      const theirs = ref?.matmul[`${dtype}-${n}`];
      rows.push({ name: `matmul ${dtype} n=${n}`, unit: 'GFLOP/s', ours, torch: theirs, ratio: theirs ? ours / theirs : undefined });
    }
  }
  const ours = mlpStepMs();
  const theirs = ref?.mlpStepMs;
  rows.push({ name: 'MLP 512-2048-512 batch 64 fwd+bwd+AdamW', unit: 'ms/step', ours, torch: theirs, ratio: theirs ? theirs / ours : undefined });
  return rows;
}

export type { Tensor };
