// GPU training benchmark (`npm run bench -- train --device cuda`): one BFPO step (chosen + rejected in one forward,
// cached reference log-probs, bfpo loss, backward, gradient clipping, AdamW on fp32 master weights) of Llama-shaped
// models on a CUDA device in bfloat16: Qwen2.5-0.5B and -1.5B shapes trained in full, a Mistral-7B shape with LoRA
// adapters (r 16 on every projection). Next to each: the same step in PyTorch eager on the same GPU
// (bench/torch_train_cuda.py). Reports tokens/s, MFU against the GPU's measured bfloat16 matmul peak, and the device
// memory in use after the steps as the driver reports it (libtorch's cached blocks included).
// Options: --gpu-sizes=0.5b,1.5b,7b  --gpu-pairs=4  --gpu-seq=1024  --train-steps=WARMUP,TIMED (default 2,5).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { AdamW, cuda, manualSeed, noGrad, randint, randn, tensor, tidy, full, ones, cat, type Tensor, type Device } from 'bfpo';
import { clipGradNorm_ } from 'bfpo/tensor';
import { LlamaForCausalLM, parseConfig } from 'bfpo/models';
import { applyLora } from 'bfpo/nn';
import { MasterWeights, preferenceStep, type PreferenceBatch, type ReferenceStrategy } from 'bfpo/train';
import { fusedAdamwAvailable } from '../src/optim/adam.js';
import { estimateMemory } from '../src/recipe/memory-estimate.js';
import { medianSeconds, pythonWithTorch, type BenchRow } from './util.js';

const LOSS = { lossType: 'bfpo' as const, beta: 0.01, b1: 3, alpha: 0.5 };
const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** The benchmark shapes (Llama architecture; the published models' dimensions, untied heads). */
export const GPU_SIZES: Record<string, { config: Record<string, unknown>; lora: boolean; label: string }> = {
  '0.5b': { label: 'Qwen2.5-0.5B shape, full', lora: false, config: { vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2 } },
  '1.5b': { label: 'Qwen2.5-1.5B shape, full', lora: false, config: { vocab_size: 151936, hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: 28, num_attention_heads: 12, num_key_value_heads: 2 } },
  '7b': { label: 'Mistral-7B shape, LoRA r16', lora: true, config: { vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8 } },
};

const hfConfig = (size: string): Record<string, unknown> => ({
  architectures: ['LlamaForCausalLM'], model_type: 'llama', max_position_embeddings: 4096, rms_norm_eps: 1e-5, rope_theta: 10000,
  tie_word_embeddings: false, ...GPU_SIZES[size].config,
});

export interface GpuSettings { sizes: string[]; pairs: number; seq: number; warmup: number; reps: number }

function settings(): GpuSettings {
  const refuse = (msg: string): never => { console.error(msg); process.exit(2); };
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const sizes = (arg('gpu-sizes') ?? Object.keys(GPU_SIZES).join(',')).split(',').map((s) => s.trim().toLowerCase());
  for (const s of sizes) if (!GPU_SIZES[s]) refuse(`Unknown GPU training benchmark size '${s}'; choose from ${Object.keys(GPU_SIZES).join(', ')}`);
  const int = (name: string, dflt: number): number => {
    const v = Number(arg(name) ?? dflt);
    return Number.isInteger(v) && v > 0 ? v : refuse(`Expected a positive integer for --${name} but received ${arg(name)}`);
  };
  const [warmup, reps] = (arg('train-steps') ?? '2,5').split(',').map(Number);
  if (!(Number.isInteger(warmup) && warmup >= 0 && Number.isInteger(reps) && reps >= 1)) refuse(`Expected WARMUP,TIMED step counts for --train-steps but received ${arg('train-steps')}`);
  return { sizes, pairs: int('gpu-pairs', 4), seq: int('gpu-seq', 1024), warmup, reps };
}

/** Matmul weights (embedding lookup excluded, lm_head included) of a config. */
function matmulParameters(c: Record<string, unknown>): number {
  const h = c.hidden_size as number, i = c.intermediate_size as number, nh = c.num_attention_heads as number, nkv = c.num_key_value_heads as number;
  const hd = h / nh;
  const layer = 2 * h * nh * hd + 2 * h * nkv * hd + 3 * h * i;
  return (c.num_hidden_layers as number) * layer + h * (c.vocab_size as number);
}

/** The best bfloat16 matmul rate (TFLOP/s) of n x n products on the device: the peak MFU is measured against. */
export function bf16PeakTflops(device: Device, n = 8192, reps = 5): number {
  const a = noGrad(() => randn([n, n], { device, dtype: 'bfloat16' }));
  const b = noGrad(() => randn([n, n], { device, dtype: 'bfloat16' }));
  const once = (): void => { tidy(() => { a.mm(b); }); cuda.synchronize(); };
  once();
  let best = Infinity;
  for (let i = 0; i < reps; i++) best = Math.min(best, medianSeconds(once, 0, 1));
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / best / 1e12;
}

function makeBatch(vocab: number, pairs: number, seq: number, device: Device): PreferenceBatch {
  return tidy(() => {
    const prompt = Math.floor(seq / 4);
    const inputIds = randint(0, vocab, [2 * pairs, seq], { device }); // [2B, seq]
    const labels = cat([full([2 * pairs, prompt], -100, { dtype: 'int64', device }), inputIds.narrow(1, prompt, seq - prompt)], 1); // [2B, seq]
    const safe = Array.from({ length: pairs }, (_, i) => i % 2);
    return {
      inputIds, labels, attentionMask: ones([2 * pairs, seq], { dtype: 'int64', device }),
      isChosenSafe: tensor(safe, { dtype: 'float32', device }), isRejectedSafe: tensor(safe.map(() => 0), { dtype: 'float32', device }),
      referenceChosenLogps: randn([pairs], { device }).sub(seq * 3), referenceRejectedLogps: randn([pairs], { device }).sub(seq * 3),
      indices: safe.map((_, i) => i), tokens: 2 * pairs * seq,
    };
  });
}

interface GpuMeasurement { secondsPerStep: number; memoryUsedBytes: number | null; fused: boolean }

/** Waits for the device's queued work (nothing to wait for on the CPU). */
const sync = (device: Device): void => { if (device !== 'cpu') cuda.synchronize(); };

/** Times `warmup` + `reps` steps of one size on `device` (median step time, the device synchronised each step). */
export function measureGpuStep(size: string, device: Device, s: GpuSettings): GpuMeasurement {
  manualSeed(0);
  const config = parseConfig(hfConfig(size));
  const model = new LlamaForCausalLM(config, { dtype: 'bfloat16', device });
  if (GPU_SIZES[size].lora) applyLora(model, { r: 16, alpha: 32, dropout: 0, targetModules: LORA_TARGETS });
  const trainable = model.namedParameters().filter(([, p]) => p.requiresGrad).map(([, p]) => p);
  const masters = new MasterWeights(trainable);
  const fused = fusedAdamwAvailable(device);
  const opt = new AdamW(masters.params(), { lr: 1e-5, weightDecay: 0, fused });
  const batch = makeBatch(config.vocabSize, s.pairs, s.seq, device);
  const reference: ReferenceStrategy = { name: 'precomputed', logps: () => { throw new Error('the batch carries its reference log-probs'); } };
  model.train(true);
  const step = (): void => {
    tidy(() => {
      const { loss } = preferenceStep(model, batch, reference, LOSS);
      loss.backward();
      loss.dispose();
    });
    masters.gradsToMaster();
    clipGradNorm_(masters.params(), 1.0);
    opt.step();
    opt.zeroGrad();
    masters.copyBack();
    sync(device);
  };
  try {
    const secondsPerStep = medianSeconds(step, s.warmup, s.reps);
    const info = device === 'cpu' ? null : cuda.memoryInfo(Number(device.split(':')[1] ?? 0));
    return { secondsPerStep, memoryUsedBytes: info ? info.total - info.free : null, fused };
  } finally {
    for (const t of Object.values(batch)) if (t && typeof t === 'object' && 'dispose' in t) (t as Tensor).dispose();
    opt.dispose();
    masters.dispose();
    model.dispose();
  }
}

interface TorchGpuResult { torch: string; device: string; peakTflops: number; secondsPerStep: number; memoryUsedBytes: number; maxReservedBytes: number }

/** bench/torch_train_cuda.py for one size, in its own process; null (reason on stderr) when it cannot run. */
function torchStep(size: string, device: Device, s: GpuSettings): TorchGpuResult | null {
  const python = pythonWithTorch();
  if (!python) return null;
  const job = { config: GPU_SIZES[size].config, lora: GPU_SIZES[size].lora, loraTargets: LORA_TARGETS, pairs: s.pairs, seq: s.seq, loss: LOSS, warmup: s.warmup, reps: s.reps, device };
  const r = spawnSync(python, [join(import.meta.dirname ?? '.', 'torch_train_cuda.py'), JSON.stringify(job)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    console.error(`PyTorch GPU training reference failed for ${size}: ${r.stderr}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as TorchGpuResult;
}

/** The `train` section of `npm run bench` on a CUDA device (each size: ours, then PyTorch eager, each in turn alone on the GPU). */
export async function benchTrainCuda(device: Device): Promise<BenchRow[]> {
  const s = settings();
  const ourPeak = bf16PeakTflops(device);
  let peak = ourPeak;
  const rows: BenchRow[] = [];
  const tokens = 2 * s.pairs * s.seq;
  const gib = (b: number | null | undefined): string => (b === null || b === undefined ? '-' : `${(b / 2 ** 30).toFixed(1)} GiB`);
  const results: { size: string; m: GpuMeasurement | null; t: TorchGpuResult | null; trainable: number; error?: string }[] = [];
  for (const size of s.sizes) {
    const c = GPU_SIZES[size];
    const est = estimateMemory({
      config: parseConfig(hfConfig(size)), weightBytes: 2, masterWeights: true, optimizerStates: 2, reference: 'precomputed',
      trainable: c.lora ? { kind: 'lora', r: 16, targets: LORA_TARGETS } : { kind: 'all' }, sequences: 2 * s.pairs, seqLen: s.seq,
      gradientCheckpointing: false,
    });
    const info = cuda.memoryInfo(Number(device.split(':')[1] ?? 0));
    if (info && est.totalBytes > info.free) {
      results.push({ size, m: null, t: null, trainable: est.trainableParameters, error: `estimated ${gib(est.totalBytes)}, ${gib(info.free)} free` });
      continue;
    }
    let m: GpuMeasurement | null = null;
    let error: string | undefined;
    try {
      m = measureGpuStep(size, device, s);
    } catch (e) {
      error = (e as Error).message.split('\n')[0];
    }
    const t = torchStep(size, device, s);
    if (t) peak = Math.max(peak, t.peakTflops);
    console.error(`train ${size} on ${device}: bfpo ${m ? `${m.secondsPerStep.toFixed(3)} s/step` : `failed (${error})`}, PyTorch ${t ? `${t.secondsPerStep.toFixed(3)} s/step` : '-'}`);
    results.push({ size, m, t, trainable: est.trainableParameters, error });
    await new Promise((r) => setImmediate(r));
  }
  for (const { size, m, t, trainable, error } of results) {
    const c = GPU_SIZES[size];
    const label = `${size} (${c.label}) on ${device}`;
    if (!m) {
      rows.push({ name: `${label}: not measured`, unit: '-', ours: NaN, note: error });
      continue;
    }
    const n = matmulParameters(c.config);
    // Full: 6N per token (forward 2N, backward 4N). LoRA: the frozen base's forward 2N and activation gradients 2N,
    // plus 6 FLOPs per token for each adapter weight.
    const flopsPerToken = c.lora ? 4 * n + 6 * trainable : 6 * n;
    const ours = tokens / m.secondsPerStep;
    const torch = t ? tokens / t.secondsPerStep : undefined;
    rows.push({ name: `${label}, tokens`, unit: 'tokens/s', ours, torch, ratio: torch ? ours / torch : undefined });
    const mfu = (sec: number): number => (flopsPerToken * tokens) / sec / (peak * 1e12);
    rows.push({ name: `${label}, MFU`, unit: 'fraction', ours: mfu(m.secondsPerStep), torch: t ? mfu(t.secondsPerStep) : undefined, ratio: t ? t.secondsPerStep / m.secondsPerStep : undefined });
    rows.push({
      name: `${label}, device memory in use after the steps`, unit: 'GiB', ours: (m.memoryUsedBytes ?? NaN) / 2 ** 30,
      torch: t ? t.memoryUsedBytes / 2 ** 30 : undefined, note: `${m.fused ? 'fused' : 'plain'} AdamW${t ? `; PyTorch max reserved ${gib(t.maxReservedBytes)}` : ''}`,
    });
  }
  rows.push({
    name: `batch ${s.pairs} pairs x ${s.seq} tokens (chosen+rejected in one forward), bfloat16 weights with fp32 masters, sdpa attention, ` +
      `median of ${s.reps} timed steps after ${s.warmup} warm-up; MFU = 6N (full) or 4N + 6N_adapters (LoRA) FLOPs/token x tokens/s over the bf16 matmul peak`,
    unit: 'TFLOP/s peak', ours: ourPeak, note: `peak used: ${peak.toFixed(1)} TFLOP/s, the best of ours and PyTorch's n=8192 bf16 matmul; N = matmul weights incl. lm_head`,
  });
  return rows;
}
