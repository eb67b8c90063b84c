// Benchmark of the Llama-family model: prefill and decode tokens per second for a small random Llama, on CPU
// (and CUDA when libtorch has it). `npm run bench` calls benchModels(); it can also run alone:
//   node --conditions=bfpo-source --import tsx bench/models.ts
import { performance } from 'node:perf_hooks';
import { type DType, type Device, generate, getNumThreads, inferenceMode, randint, setNumThreads, tidy } from 'bfpo';
import { KVCache, LlamaForCausalLM, parseConfig } from 'bfpo/models';

export interface ModelBenchResult {
  name: string;
  device: Device;
  threads: number;
  dtype: DType;
  batch: number;
  promptTokens: number;
  newTokens: number;
  /** Prompt tokens processed per second in one forward over the whole batch. */
  prefillTokensPerSecond: number;
  /** Generated tokens per second (all rows together), greedy, with the KV cache. */
  decodeTokensPerSecond: number;
}

/** A small Llama: hidden 256, 4 layers, 8 heads with 4 key/value heads, vocab 4096. */
export const BENCH_CONFIG = {
  architectures: ['LlamaForCausalLM'], vocab_size: 4096, hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4,
  num_attention_heads: 8, num_key_value_heads: 4, max_position_embeddings: 2048, rms_norm_eps: 1e-5,
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Times prefill and greedy decode for each batch size; medians of `repeats` runs after one warm-up. `threads` sets
 * libtorch's thread count for the run (default: as configured).
 */
export async function benchModels({
  device = 'cpu' as Device, dtype = 'float32' as DType, batches = [1, 8], promptTokens = 128, newTokens = 32, repeats = 3,
  threads = getNumThreads(),
} = {}): Promise<ModelBenchResult[]> {
  const previousThreads = getNumThreads();
  setNumThreads(threads);
  const model = new LlamaForCausalLM(parseConfig(BENCH_CONFIG), { dtype, device }).eval();
  const results: ModelBenchResult[] = [];
  try {
    for (const batch of batches) {
      const prompts = tidy(() => randint(0, 4096, [batch, promptTokens]).toArray() as number[][]);
      const prefill: number[] = [];
      const total: number[] = [];
      for (let r = 0; r <= repeats; r++) {
        const t0 = performance.now();
        inferenceMode(() => tidy(() => {
          const cache = new KVCache();
          const ids = randint(0, 4096, [batch, promptTokens], { device });
          model.forward(ids, { cache, logitsToKeep: 1 }).logits.toTypedArray();
          cache.dispose();
        }));
        const t1 = performance.now();
        generate(model, prompts, { maxNewTokens: newTokens, eosTokenIds: [] });
        const t2 = performance.now();
        if (r === 0) continue; // warm-up
        prefill.push(t1 - t0);
        total.push(t2 - t1);
      }
      const p = median(prefill);
      const decodeMs = Math.max(median(total) - p, 1e-3); // generate = one prefill + newTokens steps
      results.push({
        name: `llama h256 l4 ${dtype} b${batch} t${threads}`, device, threads, dtype, batch, promptTokens, newTokens,
        prefillTokensPerSecond: (batch * promptTokens) / (p / 1000),
        decodeTokensPerSecond: (batch * newTokens) / (decodeMs / 1000),
      });
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    model.dispose();
    setNumThreads(previousThreads);
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await benchModels()) {
    console.log(`${r.name}: prefill ${r.prefillTokensPerSecond.toFixed(0)} tok/s, decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s`);
  }
}
