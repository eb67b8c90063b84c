// Prefill and decode of one GGUF file in bfpo and in llama.cpp, same machine, same run, same thread count.
// The model is the models benchmark's Llama shape (hidden 256, 4 layers, GQA) with the Llama-2 vocabulary, random
// weights, written by bfpo as an F32 GGUF. llama.cpp runs through the npm package node-llama-cpp, which is not a
// dependency: set NODE_LLAMA_CPP_DIR to a folder where it is installed (scripts/fixtures/llama-cpp-parity.mjs
// installs node-llama-cpp@3.21.1 into a temporary folder and names it); without it this section says so.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generate, getNumThreads, inferenceMode, loadPretrained, manualSeed, tensor, tidy } from 'bfpo';
import { LlamaForCausalLM, KVCache, parseConfig, toHfConfig, writeGgufFromHf } from 'bfpo/models';
import { BENCH_CONFIG } from './models.js';
import type { BenchRow } from './util.js';

const PROMPT_TOKENS = 128;
const NEW_TOKENS = 32;
const REPEATS = 3;

function nodeLlamaCppDir(): string | null {
  const candidates = [process.env.NODE_LLAMA_CPP_DIR, join(tmpdir(), 'bfpo-node-llama-cpp-3.21.1')].filter(Boolean) as string[];
  return candidates.find((d) => existsSync(join(d, 'node_modules', 'node-llama-cpp', 'package.json'))) ?? null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Writes the benchmark model as an F32 GGUF with the Llama-2 tokenizer of the test fixture; returns its path. */
function writeBenchGguf(dir: string): string {
  const fixture = new URL('../test/fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;
  const { tokenizer } = loadPretrained(fixture);
  manualSeed(0);
  const model = new LlamaForCausalLM(parseConfig({ ...BENCH_CONFIG, vocab_size: 32000 }));
  const path = join(dir, 'bench.gguf');
  writeGgufFromHf(path, { config: toHfConfig(model.config), weights: model.stateDict(), tokenizer: tokenizer ?? undefined, fileType: 'F32', name: 'bench' });
  model.dispose();
  return path;
}

function oursTimes(path: string, prompt: number[]): { prefill: number; decode: number } {
  const { model } = loadPretrained(path);
  const prefill: number[] = [];
  const decode: number[] = [];
  try {
    for (let r = 0; r <= REPEATS; r++) {
      const t0 = performance.now();
      inferenceMode(() => tidy(() => {
        const cache = new KVCache();
        model.forward(tensor([prompt]), { cache, logitsToKeep: 1 }).logits.toTypedArray();
        cache.dispose();
      }));
      const t1 = performance.now();
      generate(model, [prompt], { maxNewTokens: NEW_TOKENS, eosTokenIds: [] });
      const t2 = performance.now();
      if (r === 0) continue; // warm-up
      prefill.push((t1 - t0) / 1000);
      decode.push(((t2 - t1) - (t1 - t0)) / 1000); // generation includes one prefill
    }
  } finally {
    model.dispose();
  }
  return { prefill: median(prefill), decode: median(decode) };
}

interface LlamaCppSequence {
  clearHistory(): Promise<void>;
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  evaluate(tokens: number[], options: { temperature: number }): AsyncGenerator<number>;
}

async function llamaCppTimes(dir: string, path: string, prompt: number[], threads: number): Promise<{ prefill: number; decode: number; release: string }> {
  const require = createRequire(join(dir, 'package.json'));
  const { getLlama } = await import(pathToFileURL(require.resolve('node-llama-cpp')).href);
  const llama = await getLlama({ gpu: false, build: 'never' });
  const model = await llama.loadModel({ modelPath: path });
  const context = await model.createContext({ contextSize: 512, batchSize: 512, threads, flashAttention: false });
  const sequence = context.getSequence() as LlamaCppSequence;
  const prefill: number[] = [];
  const decode: number[] = [];
  for (let r = 0; r <= REPEATS; r++) {
    await sequence.clearHistory();
    const t0 = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt);
    const t1 = performance.now();
    await sequence.clearHistory();
    const t2 = performance.now();
    let n = 0;
    for await (const _token of sequence.evaluate(prompt, { temperature: 0 })) if (++n >= NEW_TOKENS) break;
    const t3 = performance.now();
    if (r === 0) continue;
    prefill.push((t1 - t0) / 1000);
    decode.push(((t3 - t2) - (t1 - t0)) / 1000);
  }
  await context.dispose();
  await model.dispose();
  const version = (JSON.parse(readFileSync(join(dir, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')) as { version: string }).version;
  return { prefill: median(prefill), decode: median(decode), release: `node-llama-cpp ${version}` };
}

export async function benchLlamaCpp(): Promise<BenchRow[]> {
  const dir = nodeLlamaCppDir();
  const name = `Llama ${BENCH_CONFIG.hidden_size}x${BENCH_CONFIG.num_hidden_layers}, vocab 32000, F32 GGUF, batch 1`;
  if (!dir) {
    return [{ name, unit: 'tokens/s', ours: Number.NaN, note: 'llama.cpp not installed: set NODE_LLAMA_CPP_DIR to a folder with node-llama-cpp (see scripts/fixtures/llama-cpp-parity.mjs)' }];
  }
  const work = mkdtempSync(join(tmpdir(), 'bfpo-bench-llamacpp-'));
  try {
    const path = writeBenchGguf(work);
    const prompt = Array.from({ length: PROMPT_TOKENS }, (_, i) => 100 + ((i * 7919) % 31000));
    const threads = getNumThreads();
    const ours = oursTimes(path, prompt);
    const theirs = await llamaCppTimes(dir, path, prompt, threads);
    const row = (what: string, tokens: number, a: number, b: number): BenchRow => ({
      name: `${name}, ${what}`, unit: 'tokens/s', ours: tokens / a, torch: tokens / b, ratio: b / a, note: `reference: llama.cpp through ${theirs.release}, ${threads} threads`,
    });
    return [row(`prefill ${PROMPT_TOKENS} tokens`, PROMPT_TOKENS, ours.prefill, theirs.prefill), row(`decode ${NEW_TOKENS} tokens`, NEW_TOKENS, ours.decode, theirs.decode)];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
