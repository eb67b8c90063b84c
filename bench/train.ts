// Training benchmark: one BFPO step (concatenated chosen+rejected forward, sequence log-probs, bfpo loss, backward,
// AdamW) for random Llamas of about 10M, 50M and 120M parameters at sequence length 256, with cached reference
// log-probs or a frozen reference copy, training all weights or only `down_proj`. Next to each figure: the same step
// written directly in PyTorch (bench/torch_train.py), same config, batch shape and thread count, run after ours.
// Sizes: BFPO_BENCH_TRAIN_SIZES=10m,50m or `npm run bench -- train --train-sizes=10m`; steps: BFPO_BENCH_TRAIN_STEPS=1,5
// (warm-up, timed; the median is reported). Every size and variant runs on both sides, back to back; the default (all
// sizes, 1 warm-up + 5 timed steps) takes about 20 minutes on 2 idle cores, most of it for 120m (7 to 16 s a step).
import { spawnSync } from 'node:child_process';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { AdamW, getNumThreads, manualSeed, randint, randn, tensor, tidy, full, ones, cat, type Tensor } from 'bfpo';
import { LlamaForCausalLM, parseConfig } from 'bfpo/models';
import {
  frozenReference, preferenceStep, selectTrainable, type PreferenceBatch, type ReferenceStrategy,
} from 'bfpo/train';
import { medianSeconds, pythonWithTorch, type BenchRow } from './util.js';
import { benchTrainRealistic } from './train-realistic.js';

const SEQ = 256;
const PAIRS = 2;
const PROMPT = 64; // label -100 on the first 64 tokens of every row, as a prompt would be
const LOSS = { lossType: 'bfpo' as const, beta: 0.01, b1: 3, alpha: 0.5 };

/** Benchmark model sizes: parameter counts include the embedding table and the untied lm_head. */
export const TRAIN_SIZES: Record<string, Record<string, unknown>> = {
  '10m': { vocab_size: 8192, hidden_size: 256, intermediate_size: 704, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4 },
  '50m': { vocab_size: 16384, hidden_size: 512, intermediate_size: 1408, num_hidden_layers: 12, num_attention_heads: 8, num_key_value_heads: 4 },
  '120m': { vocab_size: 32000, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4 },
};

export interface Variant { reference: 'cached' | 'copy'; selective: boolean }
export const VARIANTS: Variant[] = [
  { reference: 'cached', selective: false }, { reference: 'copy', selective: false },
  { reference: 'cached', selective: true }, { reference: 'copy', selective: true },
];
const variantKey = (v: Variant): string => `${v.reference}-${v.selective ? 'selective' : 'full'}`;

function hfConfig(size: string): Record<string, unknown> {
  return { architectures: ['LlamaForCausalLM'], max_position_embeddings: 2048, rms_norm_eps: 1e-5, tie_word_embeddings: false, ...TRAIN_SIZES[size] };
}

/** Parameter counts: all, without the embedding table (the matmul weights), and the `down_proj` weights. */
function counts(model: LlamaForCausalLM): { total: number; matmul: number; downProj: number } {
  let total = 0, matmul = 0, downProj = 0;
  for (const [name, p] of model.namedParameters()) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    total += n;
    if (!name.includes('embed_tokens') && p.ndim === 2) matmul += n;
    if (name.includes('down_proj')) downProj += n;
  }
  return { total, matmul, downProj };
}

/**
 * Model FLOPs of one step per token: forward 2N, backward 2N for activation gradients plus 2N_w for the gradients of
 * the N_w trainable weights (full training: 6N), plus 2N for a frozen reference's forward. N counts matmul weights
 * (embedding lookup excluded, lm_head included); attention score FLOPs are left out, as in the usual 6N rule.
 */
export function flopsPerToken(n: number, trainable: number, copy: boolean): number {
  return 4 * n + 2 * trainable + (copy ? 2 * n : 0);
}

function makeBatch(vocab: number): PreferenceBatch {
  return tidy(() => {
    const inputIds = randint(0, vocab, [2 * PAIRS, SEQ]); // [2B, seq]
    const prompt = full([2 * PAIRS, PROMPT], -100, { dtype: 'int64' }); // [2B, prompt]
    const labels = cat([prompt, inputIds.narrow(1, PROMPT, SEQ - PROMPT)], 1); // [2B, seq]
    return {
      inputIds, labels, attentionMask: ones([2 * PAIRS, SEQ], { dtype: 'int64' }),
      isChosenSafe: tensor([1, 0]), isRejectedSafe: tensor([0, 0]),
      referenceChosenLogps: randn([PAIRS]).sub(300), referenceRejectedLogps: randn([PAIRS]).sub(300), indices: [0, 1],
    };
  });
}

export interface TrainMeasurement { secondsPerStep: number; parameters: number; matmulParameters: number; trainable: number }

/** Times `warmup` + `reps` steps of one size and variant (median step time). */
export function measureTrainStep(size: string, v: Variant, warmup: number, reps: number): TrainMeasurement {
  manualSeed(0);
  const config = parseConfig(hfConfig(size));
  const model = new LlamaForCausalLM(config);
  const refModel = v.reference === 'copy' ? new LlamaForCausalLM(config) : null;
  if (refModel) refModel.loadStateDict(model.stateDict());
  const { total, matmul, downProj } = counts(model);
  const params = selectTrainable(model, v.selective ? ['down_proj'] : null).map(([, p]) => p);
  const opt = new AdamW(params, { lr: 1e-5 });
  const batch = makeBatch(config.vocabSize);
  if (refModel) {
    batch.referenceChosenLogps?.dispose();
    batch.referenceRejectedLogps?.dispose();
    delete batch.referenceChosenLogps;
    delete batch.referenceRejectedLogps;
  }
  const reference: ReferenceStrategy = refModel
    ? frozenReference(refModel)
    : { name: 'precomputed', logps: () => { throw new Error('the cached variant carries its reference log-probs in the batch'); } };
  model.train(true);
  const step = (): void => tidy(() => {
    const { loss } = preferenceStep(model, batch, reference, LOSS);
    loss.backward();
    loss.dispose();
    opt.step();
    opt.zeroGrad();
  });
  try {
    const secondsPerStep = medianSeconds(step, warmup, reps);
    return { secondsPerStep, parameters: total, matmulParameters: matmul, trainable: v.selective ? downProj : matmul };
  } finally {
    for (const t of Object.values(batch)) if (t && typeof t === 'object' && 'dispose' in t) (t as Tensor).dispose();
    opt.dispose();
    model.dispose();
    refModel?.dispose();
  }
}

/** The best float32 matmul rate (GFLOP/s) of a few n x n products: the peak MFU is measured against. */
export function matmulPeakGflops(n = 2048, reps = 4): number {
  const a = randn([n, n]);
  const b = randn([n, n]);
  let best = Infinity;
  tidy(() => { a.mm(b); });
  for (let i = 0; i < reps; i++) best = Math.min(best, medianSeconds(() => tidy(() => { a.mm(b); }), 0, 1));
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / best / 1e9;
}

interface TorchTrainResult { torch: string; threads: number; peakGflops: number; steps: Record<string, number> }

/** Runs bench/torch_train.py for one size; null (with the reason on stderr) when PyTorch is absent or fails. */
function torchTrain(size: string, variants: Variant[], warmup: number, reps: number, threads: number): TorchTrainResult | null {
  const python = pythonWithTorch();
  if (!python) return null;
  const job = { config: TRAIN_SIZES[size], seq: SEQ, pairs: PAIRS, prompt: PROMPT, loss: LOSS, warmup, reps, threads, variants: variants.map(variantKey) };
  const r = spawnSync(python, [join(import.meta.dirname ?? '.', 'torch_train.py'), JSON.stringify(job)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    console.error(`PyTorch training reference failed for ${size}: ${r.stderr}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as TorchTrainResult;
}

/** Sizes and step counts from `--train-sizes=`, `--train-steps=` or BFPO_BENCH_TRAIN_SIZES / BFPO_BENCH_TRAIN_STEPS. */
function settings(): { sizes: string[]; warmup: number; reps: number } {
  const refuse = (msg: string): never => { console.error(msg); process.exit(2); };
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const given0 = arg('train-sizes') ?? process.env.BFPO_BENCH_TRAIN_SIZES ?? Object.keys(TRAIN_SIZES).join(',');
  const sizes = given0 === 'none' ? [] : given0.split(',').map((s) => s.trim().toLowerCase()); // none: the realistic workload only
  for (const s of sizes) if (!TRAIN_SIZES[s]) refuse(`Unknown training benchmark size '${s}'; choose from ${Object.keys(TRAIN_SIZES).join(', ')}`);
  const given = arg('train-steps') ?? process.env.BFPO_BENCH_TRAIN_STEPS;
  const [warmup, reps] = (given ?? '1,5').split(',').map(Number);
  if (!(Number.isInteger(warmup) && warmup >= 0 && Number.isInteger(reps) && reps >= 1)) refuse(`Expected WARMUP,TIMED step counts (e.g. 1,2) for the training benchmark steps but received ${arg('train-steps') ?? process.env.BFPO_BENCH_TRAIN_STEPS}`);
  return { sizes, warmup, reps };
}

/** A rough upper bound of one variant's memory: weights, grads, AdamW moments, a reference copy, activations. */
function bytesNeeded(parameters: number, vocab: number, v: Variant): number {
  const copies = 4 + (v.reference === 'copy' ? 1 : 0);
  return parameters * 4 * copies + 6 * 2 * PAIRS * SEQ * vocab * 4 + (1 << 30);
}

/** The `train` section of `npm run bench`. */
export async function benchTrain(): Promise<BenchRow[]> {
  const { sizes, warmup, reps } = settings();
  const threads = getNumThreads();
  const ourPeak = matmulPeakGflops();
  const rows: BenchRow[] = [];
  const tokensPerStep = 2 * PAIRS * SEQ;
  let peak = ourPeak;
  const pending: { size: string; v: Variant; m: TrainMeasurement; torchSeconds?: number }[] = [];
  let turn = 0;
  for (const size of sizes) {
    const cfg = TRAIN_SIZES[size];
    for (const v of VARIANTS) {
      const probe = new LlamaForCausalLM(parseConfig(hfConfig(size)), { init: 'empty' });
      const need = bytesNeeded(counts(probe).total, cfg.vocab_size as number, v);
      probe.dispose();
      if (need > freemem()) {
        rows.push({ name: `${size} ${variantKey(v)}: does not fit`, unit: '-', ours: NaN, note: `needs ~${(need / 2 ** 30).toFixed(1)} GiB, ${(freemem() / 2 ** 30).toFixed(1)} GiB free` });
        continue;
      }
      // The two sides run back to back for each variant, in alternating order, so a drift in the machine's speed
      // (other load, frequency) does not favour one side.
      const ours = (): TrainMeasurement => measureTrainStep(size, v, warmup, reps);
      const theirs = (): TorchTrainResult | null => torchTrain(size, [v], warmup, reps, threads);
      let m: TrainMeasurement;
      let ref: TorchTrainResult | null;
      if (turn++ % 2 === 0) { m = ours(); ref = theirs(); } else { ref = theirs(); m = ours(); }
      if (ref) peak = Math.max(peak, ref.peakGflops);
      const ts = ref?.steps[variantKey(v)];
      console.error(`train ${size} ${variantKey(v)}: bfpo ${m.secondsPerStep.toFixed(3)} s/step, PyTorch ${ts === undefined ? '-' : `${ts.toFixed(3)} s/step`}`);
      pending.push({ size, v, m, torchSeconds: ts });
      await new Promise((r) => setImmediate(r));
    }
  }
  for (const x of pending) {
    const { size, v, m, torchSeconds: ts } = x;
    const label = `${size} (${(m.parameters / 1e6).toFixed(1)}M) ${v.reference === 'copy' ? 'frozen ref copy' : 'cached ref logps'}, ${v.selective ? 'down_proj only' : 'full'}`;
    const flops = flopsPerToken(m.matmulParameters, m.trainable, v.reference === 'copy') * tokensPerStep;
    const ours = PAIRS / m.secondsPerStep;
    const torch = ts ? PAIRS / ts : undefined;
    rows.push({ name: `${label}, pairs`, unit: 'pairs/s', ours, torch, ratio: torch ? ours / torch : undefined });
    rows.push({ name: `${label}, tokens`, unit: 'tokens/s', ours: ours * 2 * SEQ, torch: torch ? torch * 2 * SEQ : undefined, ratio: torch ? ours / torch : undefined });
    const mfu = (s: number): number => flops / s / (peak * 1e9);
    rows.push({ name: `${label}, MFU`, unit: 'fraction', ours: mfu(m.secondsPerStep), torch: ts ? mfu(ts) : undefined, ratio: ts ? ts / m.secondsPerStep : undefined });
  }
  rows.push({
    name: `batch ${PAIRS} pairs x ${SEQ} tokens (chosen+rejected in one forward), float32, ${threads} threads, median of ${reps} timed steps after ${warmup} warm-up, the two sides back to back per variant; ` +
      `MFU = 6N (full) or 4N+2N_trainable (selective), +2N with a frozen reference copy, FLOPs/token x tokens/s over the float32 matmul peak`,
    unit: 'GFLOP/s peak', ours: ourPeak, note: `peak used: ${peak.toFixed(1)} GFLOP/s, the best of ours and PyTorch's n=2048 matmul; N = matmul weights incl. lm_head`,
  });
  rows.push(...await benchTrainRealistic());
  return rows;
}
