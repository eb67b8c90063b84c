// The realistic training benchmark: one epoch of N preference pairs whose prompt and response lengths follow
// PKU-SafeRLHF's spread, through `bfpo train` end to end (reading and tokenizing the data, loading the model and a
// frozen reference copy, training, saving), next to the original's setup written in plain PyTorch
// (bench/torch_train_epoch.py: random batches padded to their longest row, a frozen deep copy as the reference, an
// eager HF-style Llama, the same dtype, the same thread count) on the very same token ids.
//
// Lengths (in words of a common-English word list, about one Mistral token each; Zephyr chat template around them):
// prompt ~ lognormal(median 20 words, sigma 0.6) clipped to [4, 100]; each response ~ lognormal(median 70 words,
// sigma 0.8) clipped to [3, 380] (PKU-SafeRLHF: short questions, answers from a few words to a few hundred);
// max_length 512, max_prompt_length 128 (longer pairs are truncated as bfpo truncates them). Batch 8 pairs, lr 1e-5.
//
// Run: npm run bench -- train --real-pairs=128 --real-size=5m --real-dtypes=float32,bfloat16
// (BFPO_BENCH_REAL_PAIRS / BFPO_BENCH_REAL_SIZE / BFPO_BENCH_REAL_DTYPES; --real-pairs=0 skips this part;
// --real-torch=no / BFPO_BENCH_REAL_TORCH=no times bfpo alone; BFPO_BENCH_VERBOSE=1 prints bfpo train's console;
// BFPO_BENCH_REAL_KEEP=DIR writes the data, model and recipes to DIR and keeps them, to rerun or profile by hand).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getNumThreads, manualSeed } from 'bfpo';
import { LlamaForCausalLM, parseConfig } from 'bfpo/models';
import { savePretrained } from '../src/models/pretrained.js';
import { loadRecipe } from '../src/recipe/recipe.js';
import { resolveSettings } from '../src/recipe/settings.js';
import { preferenceData, textTokenizer } from '../src/recipe/run.js';
import { loadTokenizer, type Tokenizer } from '../src/io/tokenizer.js';
import { matmulSpeed } from '../src/train/bf16-probe.js';
import { zephyrTokenizer } from '../test/data/zephyr-tokenizer.js';
import { pythonWithTorch, type BenchRow } from './util.js';

const ROOT = new URL('../', import.meta.url).pathname;
const BATCH = 8;
const LR = 1e-5;
const LOSS = { beta: 0.01, b1: 3, alpha: 0.5 };

/** Model sizes of the realistic benchmark (the Mistral tokenizer's 32000-token vocabulary; untied lm_head). */
export const REAL_SIZES: Record<string, Record<string, unknown>> = {
  '5m': { vocab_size: 32000, hidden_size: 64, intermediate_size: 176, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2 },
  '50m': { vocab_size: 32000, hidden_size: 384, intermediate_size: 1024, num_hidden_layers: 8, num_attention_heads: 6, num_key_value_heads: 2 },
  '120m': { vocab_size: 32000, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4 },
};

const WORDS = ('the of and to a in is you that it he was for on are as with his they I at be this have from or one had by '
  + 'word but not what all were we when your can said there use an each which she do how their if will up other about out '
  + 'many then them these so some her would make like him into time has look two more write go see number no way could '
  + 'people my than first water been call who oil its now find long down day did get come made may part safety help '
  + 'request cannot assist instead consider legal professional').split(' ');

/** PKU-SafeRLHF-layout rows with the lengths stated above (seeded). */
export function realisticRows(n: number, seed = 7): Record<string, unknown>[] {
  let s = seed >>> 0;
  const rnd = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const normal = (): number => Math.sqrt(-2 * Math.log(rnd() || 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const logn = (median: number, sigma: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, Math.round(median * Math.exp(sigma * normal()))));
  const text = (len: number): string => Array.from({ length: len }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
  return Array.from({ length: n }, (_, i) => ({
    prompt: `${text(logn(20, 0.6, 4, 100))}?`,
    response_0: `${text(logn(70, 0.8, 3, 380))}.`,
    response_1: `${text(logn(70, 0.8, 3, 380))}.`,
    is_response_0_safe: rnd() < 0.5,
    is_response_1_safe: rnd() < 0.5,
    better_response_id: i % 2,
    safer_response_id: (i >> 1) % 2,
  }));
}

function settings(): { pairs: number; size: string; dtypes: ('float32' | 'bfloat16')[]; torch: boolean } {
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const pairs = Number(arg('real-pairs') ?? process.env.BFPO_BENCH_REAL_PAIRS ?? 128);
  const size = (arg('real-size') ?? process.env.BFPO_BENCH_REAL_SIZE ?? '5m').toLowerCase();
  const dtypes = (arg('real-dtypes') ?? process.env.BFPO_BENCH_REAL_DTYPES ?? 'float32,bfloat16').split(',').map((x) => x.trim());
  const refuse = (m: string): never => { console.error(m); process.exit(2); };
  if (!(Number.isInteger(pairs) && pairs >= 0)) refuse(`--real-pairs must be a whole number ≥ 0, not ${arg('real-pairs')}`);
  if (!REAL_SIZES[size]) refuse(`Unknown realistic benchmark size '${size}'; choose from ${Object.keys(REAL_SIZES).join(', ')}`);
  for (const d of dtypes) if (d !== 'float32' && d !== 'bfloat16') refuse(`--real-dtypes takes float32 and/or bfloat16, not ${d}`);
  const torch = (arg('real-torch') ?? process.env.BFPO_BENCH_REAL_TORCH ?? 'yes').toLowerCase();
  if (torch !== 'yes' && torch !== 'no') refuse(`--real-torch takes yes or no, not ${torch}`);
  return { pairs, size, dtypes: dtypes as ('float32' | 'bfloat16')[], torch: torch === 'yes' };
}

/** Matmul weights (embedding lookup excluded, lm_head included): the N of the 6N rule. */
function matmulParams(config: Record<string, unknown>): number {
  const m = new LlamaForCausalLM(parseConfig({ architectures: ['LlamaForCausalLM'], ...config }), { init: 'empty' });
  let n = 0;
  for (const [name, p] of m.namedParameters()) if (!name.includes('embed_tokens') && p.ndim === 2) n += p.numel();
  m.dispose();
  return n;
}

function recipeText(dir: string, dtype: string, out: string, extra = ''): string {
  return `model_name_or_path: ${join(dir, 'model')}
dataset_mixer: {${join(dir, 'data')}: 1.0}
dataset_splits: [train]
max_length: 512
max_prompt_length: 128
loss_type: bfpo
beta: ${LOSS.beta}
b1: ${LOSS.b1}
alpha: ${LOSS.alpha}
reference_strategy: copy
per_device_train_batch_size: ${BATCH}
num_train_epochs: 1
learning_rate: ${LR}
lr_scheduler_type: constant
max_grad_norm: 1.0
logging_steps: 1000
save_strategy: "no"
do_eval: false
report_to: none
disable_tqdm: true
tokenized_cache: false
bf16: ${dtype === 'bfloat16'}
output_dir: ${out}
${extra}`;
}

/** The `bfpo train` command, from source, timed whole (seconds), and its training loop (train_results.json). */
function bfpoTrain(recipe: string, out: string): { seconds: number; loop: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--conditions=bfpo-source', '--import', 'tsx', join(ROOT, 'bench/bfpo-cli.ts'), 'train', recipe],
    { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 26, env: { ...process.env, BFPO_NUM_THREADS: String(getNumThreads()) } });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`bfpo train failed (${r.status}): ${r.stderr.slice(-2000)}`);
  if (process.env.BFPO_BENCH_VERBOSE) console.error(r.stderr);
  const loop = Number((JSON.parse(readFileSync(join(out, 'train_results.json'), 'utf8')) as { train_runtime?: number }).train_runtime);
  return { seconds, loop };
}

/** The realistic rows of `npm run bench -- train`. */
export async function benchTrainRealistic(): Promise<BenchRow[]> {
  const { pairs, size, dtypes, torch: withTorch } = settings();
  if (pairs === 0) return [];
  const threads = getNumThreads();
  const keep = process.env.BFPO_BENCH_REAL_KEEP;
  const dir = keep ? (mkdirSync(keep, { recursive: true }), keep) : mkdtempSync(join(tmpdir(), 'bfpo-bench-real-'));
  const rows: BenchRow[] = [];
  try {
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'train.jsonl'), realisticRows(pairs).map((r) => JSON.stringify(r)).join('\n'));
    const config = { architectures: ['LlamaForCausalLM'], model_type: 'llama', max_position_embeddings: 1024, rms_norm_eps: 1e-5, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, ...REAL_SIZES[size] };
    manualSeed(0);
    const model = new LlamaForCausalLM(parseConfig(config));
    savePretrained(model, zephyrTokenizer() as unknown as Tokenizer, join(dir, 'model'));
    model.dispose();
    const n = matmulParams(config);

    // The token ids bfpo trains on, for the PyTorch side.
    const recipe0 = join(dir, 'r0.yaml');
    writeFileSync(recipe0, recipeText(dir, 'float32', join(dir, 'out0')));
    const s = resolveSettings(loadRecipe(recipe0), 'preference');
    const tok = textTokenizer(loadTokenizer(s.model.tokenizerPath), null);
    const data = await preferenceData(s, tok);
    const items = data.train.items.map((p) => ({
      c: Array.from(p.chosen.ids), r: Array.from(p.rejected.ids), pc: p.chosen.promptLength, pr: p.rejected.promptLength,
      sc: p.isChosenSafe, sr: p.isRejectedSafe,
    }));
    const tokens = items.reduce((a, p) => a + p.c.length + p.r.length, 0);
    const promptTokens = items.reduce((a, p) => a + p.pc, 0) / items.length;
    const answerTokens = items.reduce((a, p) => a + (p.c.length - p.pc) + (p.r.length - p.pr), 0) / (2 * items.length);
    const flops = 8 * n * tokens; // 6N for the policy's forward and backward, 2N for the reference copy's forward
    const python = withTorch ? pythonWithTorch() : null;
    for (const dtype of dtypes) {
      const peak = Math.max(matmulSpeed(dtype, 1024, 4), matmulSpeed(dtype, 1024, 4));
      const recipe = join(dir, `r-${dtype}.yaml`);
      const out = join(dir, `out-${dtype}`);
      rmSync(out, { recursive: true, force: true });
      writeFileSync(recipe, recipeText(dir, dtype, out));
      const { seconds: ours, loop } = bfpoTrain(recipe, out);
      let torch: { seconds: number; paddedSlots: number } | null = null;
      if (python) {
        const job = join(dir, `job-${dtype}.json`);
        writeFileSync(job, JSON.stringify({ config, pairs: items, batch: BATCH, dtype, threads, seed: 42, lr: LR, loss: LOSS, padTokenId: tok.padTokenId ?? tok.eosTokenId }));
        const r = spawnSync(python, [join(ROOT, 'bench/torch_train_epoch.py'), job], { encoding: 'utf8', maxBuffer: 1 << 24 });
        if (r.status === 0) torch = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { seconds: number; paddedSlots: number };
        else console.error(`PyTorch epoch failed (${dtype}): ${r.stderr.slice(-2000)}`);
      }
      console.error(`train realistic ${size} ${dtype}: bfpo train ${ours.toFixed(1)} s (whole command; its training loop ${loop.toFixed(1)} s), PyTorch loop ${torch ? torch.seconds.toFixed(1) : '-'} s`);
      const label = `realistic ${size} (${(n / 1e6).toFixed(1)}M matmul weights), ${pairs} pairs, ${dtype}`;
      rows.push({ name: `${label}: bfpo train (whole command) vs PyTorch training loop`, unit: 'pairs/s', ours: pairs / ours, torch: torch ? pairs / torch.seconds : undefined, ratio: torch ? torch.seconds / ours : undefined });
      rows.push({ name: `${label}: bfpo training loop (train_runtime) vs PyTorch training loop`, unit: 'pairs/s', ours: pairs / loop, torch: torch ? pairs / torch.seconds : undefined, ratio: torch ? torch.seconds / loop : undefined });
      rows.push({ name: `${label}: MFU (8N x ${tokens} real tokens over the ${dtype} matmul peak ${peak.toFixed(0)} GFLOP/s), bfpo whole command`, unit: 'fraction', ours: flops / ours / (peak * 1e9), torch: torch ? flops / torch.seconds / (peak * 1e9) : undefined });
      rows.push({ name: `${label}: MFU as above, bfpo training loop`, unit: 'fraction', ours: flops / loop / (peak * 1e9), torch: torch ? flops / torch.seconds / (peak * 1e9) : undefined });
      rows.push({ name: `${label}: ${dtype} matmul peak (n=1024, best of 8)`, unit: 'GFLOP/s', ours: peak });
      if (torch) rows.push({ name: `${label}: slots computed by the padded PyTorch batches / real tokens`, unit: 'ratio', ours: 1, torch: torch.paddedSlots / tokens });
    }
    rows.push({ name: `realistic workload: ${pairs} pairs, ${(promptTokens).toFixed(0)} prompt + ${answerTokens.toFixed(0)} answer tokens on average, batch ${BATCH}, frozen reference copy, ${threads} threads; bfpo: group_by_length, padding_free, prompt shared; PyTorch: random batches padded to the longest row, autocast for bfloat16`, unit: '-', ours: NaN });
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
