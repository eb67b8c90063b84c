// Where a training step's time goes, by operator kind: one forward and backward of a preference batch (8 pairs of
// PKU-SafeRLHF-like lengths, cached reference log-probs) of the 50M and 120M benchmark Llamas, profiled with
// libtorch's operator profiler, padded batches against padding-free ones, float32 and bfloat16.
// Run: npm run bench -- profile [--profile-sizes=50m,120m] [--profile-dtypes=float32,bfloat16]
// [--profile-layouts=padded,padding-free]
import { manualSeed, tensor, tidy } from 'bfpo';
import { LlamaForCausalLM, parseConfig } from 'bfpo/models';
import { preferenceStep, type PreferenceBatch } from 'bfpo/train';
import { profileOps, type OpTime } from '../src/tensor/profile.js';
import { TRAIN_SIZES } from './train.js';
import type { BenchRow } from './util.js';

/** Operator kinds, matched in order on the operator's name. */
export const KINDS: [string, RegExp][] = [
  ['matmul (mm, addmm, bmm, linear)', /^aten::(mm|addmm|bmm|baddbmm|matmul|linear|_mkldnn_matmul|mkldnn_matmul)$/],
  ['softmax / logsumexp', /softmax|logsumexp|token_log_probs/],
  // bfpo:: are the fused kernels of native/fused.cc (rms_norm, rotary, swiglu and their backward).
  ['rms norm, silu, rotary, other elementwise', /^aten::(mul|add|sub|div|silu|silu_backward|neg|rsqrt|pow|exp|cos|sin|where|masked_fill|sigmoid|tanh|add_|mul_|div_|sub_|addcmul_|addcdiv_|sqrt|maximum|clamp)|^bfpo::/],
  ['dtype casts and copies (to, copy_, contiguous, clone, cat)', /^aten::(to|_to_copy|copy_|contiguous|clone|cat|_cat|stack)$/],
  ['reductions (sum, mean)', /^aten::(sum|mean|norm|linalg_vector_norm|max|amax)$/],
  ['mask build (comparisons, logical ops, arange)', /^aten::(gt|ge|lt|le|eq|ne|logical_or|logical_and|logical_not|arange|all|any|triu|tril)/],
  ['gather, index, scatter, embedding', /^aten::(gather|index|index_select|scatter|scatter_add|embedding|embedding_dense_backward|nonzero|take|index_add_|masked_select)/],
  ['allocation, views, fills', /^aten::(empty|empty_strided|zeros|zeros_like|ones|ones_like|fill_|zero_|view|reshape|_reshape_alias|transpose|expand|narrow|slice|select|unsqueeze|squeeze|permute|as_strided|t|resize_|detach|alias|split|unbind|chunk|flatten)/],
  ['autograd nodes (backward bookkeeping)', /Backward\d*$|AccumulateGrad|autograd::/],
];

export function kindOf(name: string): string {
  for (const [k, re] of KINDS) if (re.test(name)) return k;
  return 'other';
}

/** Self time per kind (ms), largest first. */
export function byKind(ops: OpTime[]): [string, number][] {
  const m = new Map<string, number>();
  for (const o of ops) m.set(kindOf(o.name), (m.get(kindOf(o.name)) ?? 0) + o.selfMs);
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

/** A batch of 8 pairs: prompts ~ lognormal(median 26 tokens), answers ~ lognormal(median 90 tokens), max 512. */
export function realisticBatch(vocab: number, pairs = 8, seed = 3): PreferenceBatch {
  let s = seed;
  const r = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const logn = (med: number, sigma: number, lo: number, hi: number): number =>
    Math.max(lo, Math.min(hi, Math.round(med * Math.exp(sigma * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r())))));
  const tok = (): number => 3 + Math.floor(r() * (vocab - 3));
  const seqs: { ids: number[]; p: number }[][] = [[], []];
  for (let i = 0; i < pairs; i++) {
    const p = logn(26, 0.6, 6, 128);
    const prompt = Array.from({ length: p }, tok);
    for (const k of [0, 1]) seqs[k].push({ ids: [...prompt, ...Array.from({ length: logn(90, 0.8, 4, 512 - p) }, tok)], p });
  }
  const all = [...seqs[0], ...seqs[1]];
  const width = Math.max(...all.map((x) => x.ids.length));
  const pad = (row: number[], v: number): number[] => [...row, ...Array(width - row.length).fill(v)];
  return {
    inputIds: tensor(all.map((x) => pad(x.ids, 2)), { dtype: 'int64' }),
    attentionMask: tensor(all.map((x) => pad(x.ids.map(() => 1), 0)), { dtype: 'int64' }),
    labels: tensor(all.map((x) => pad(x.ids.map((t, i) => (i < x.p ? -100 : t)), -100)), { dtype: 'int64' }),
    isChosenSafe: tensor(Array.from({ length: pairs }, (_, i) => i % 2), { dtype: 'float32' }),
    isRejectedSafe: tensor(Array(pairs).fill(0), { dtype: 'float32' }),
    referenceChosenLogps: tensor(Array(pairs).fill(-300), { dtype: 'float32' }),
    referenceRejectedLogps: tensor(Array(pairs).fill(-300), { dtype: 'float32' }),
    indices: Array.from({ length: pairs }, (_, i) => i),
  };
}

const noReference = { name: 'in-batch', logps: (): never => { throw new Error('the batch carries its reference log-probs'); } };

/** Profiles one forward + backward (after one unprofiled warm-up step). */
export function profileStep(size: string, dtype: 'float32' | 'bfloat16', paddingFree: boolean): { ops: OpTime[]; wallMs: number; stepMs: number } {
  manualSeed(0);
  const model = new LlamaForCausalLM(parseConfig({ architectures: ['LlamaForCausalLM'], max_position_embeddings: 2048, rms_norm_eps: 1e-5, ...TRAIN_SIZES[size] }), { dtype });
  model.paddingFree = paddingFree;
  const batch = realisticBatch(TRAIN_SIZES[size].vocab_size as number);
  const step = (): void => tidy(() => {
    const { loss } = preferenceStep(model, batch, noReference, { lossType: 'bfpo', beta: 0.01 });
    loss.backward();
    for (const [, p] of model.namedParameters()) { p.grad?.dispose(); p.grad = null; }
  });
  try {
    step();
    const t0 = performance.now();
    step();
    const stepMs = performance.now() - t0;
    const { ops, wallMs } = profileOps(step);
    return { ops, wallMs, stepMs };
  } finally {
    for (const t of Object.values(batch)) if (t && typeof t === 'object' && 'dispose' in t) (t as { dispose(): void }).dispose();
    model.dispose();
  }
}

/** The `profile` section of `npm run bench`. */
export async function benchProfile(): Promise<BenchRow[]> {
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const sizes = (arg('profile-sizes') ?? '50m,120m').split(',');
  const dtypes = (arg('profile-dtypes') ?? 'float32,bfloat16').split(',') as ('float32' | 'bfloat16')[];
  const layouts = (arg('profile-layouts') ?? 'padded,padding-free').split(',');
  for (const l of layouts) if (l !== 'padded' && l !== 'padding-free') throw new Error(`--profile-layouts takes padded and/or padding-free, not ${l}`);
  const rows: BenchRow[] = [];
  for (const size of sizes) {
    for (const dtype of dtypes) {
      for (const pf of layouts.map((l) => l === 'padding-free')) {
        const { ops, wallMs, stepMs } = profileStep(size, dtype, pf);
        const label = `${size} ${dtype} ${pf ? 'padding-free' : 'padded'}`;
        console.error(`profile ${label}: step ${stepMs.toFixed(0)} ms unprofiled, ${wallMs.toFixed(0)} ms profiled`);
        rows.push({ name: `${label}: one forward + backward, unprofiled`, unit: 'ms', ours: stepMs });
        for (const [kind, ms] of byKind(ops)) rows.push({ name: `${label}: ${kind}`, unit: 'ms self', ours: ms });
        rows.push({ name: `${label}: top operators`, unit: '-', ours: NaN, note: ops.slice(0, 6).map((o) => `${o.name} ${o.selfMs.toFixed(0)} ms/${o.calls}`).join(', ') });
        await new Promise((r) => setImmediate(r));
      }
    }
  }
  return rows;
}
