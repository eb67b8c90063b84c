// Tokenizes many preference pairs, on worker threads for large sets: tokenization dominates data preparation
// (measured: ~40 pairs/s per thread against ~30,000 rows/s for reading; see docs/data.md), and pairs are
// independent, so the work splits cleanly across threads.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BfpoError, expected } from '../errors.js';
import { pairSteps, tokenizePair, checkTokenizeOptions, type TokenizeOptions, type TokenizedPair } from './tokenize.js';
import { runStepsBatched } from './encode-batched.js';
import type { BatchTextEncoder, TextTokenizer } from './tokenizer.js';
import type { PreferenceExample } from './types.js';

/** Starts a tokenization worker; from TypeScript sources (tests, benchmarks) the worker first registers tsx. */
function startWorker(workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./tokenize-worker.js', import.meta.url), { workerData });
  const entry = JSON.stringify(new URL('./tokenize-worker.ts', import.meta.url).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); })`, { eval: true, workerData });
}

/** Options of {@link tokenizePairs}. */
export interface TokenizePairsOptions extends TokenizeOptions {
  /**
   * Worker threads: a count, 0 for this thread, or 'auto' (default): one per core but one when a
   * `tokenizerModule` is given, there is no `encoder` and there are at least 500 pairs, else this thread.
   */
  workers?: number | 'auto';
  /**
   * For workers: a module URL or path exporting `createTokenizer(args)` that builds the same tokenizer in each
   * worker (tokenizers cannot be sent between threads), and the JSON-serialisable `args` it takes.
   */
  tokenizerModule?: { url: string; args?: unknown };
  /**
   * On this thread: encodes the texts of groups of `chunkSize` pairs at once with this encoder (e.g. Hugging Face's
   * Rust library), rendering the next group's chat templates meanwhile. It must give `encode`'s ids.
   */
  encoder?: BatchTextEncoder;
  /** Pairs per message to a worker (default 256), or per group given to the `encoder` (default 512). */
  chunkSize?: number;
  /** Called as pairs finish (after each chunk on workers, every 256 pairs on this thread), e.g. for a progress bar. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Tokenizes pairs in order, on `workers` threads when given.
 *
 * @example
 * const pairs = await tokenizePairs(train, tok, { maxLength: 1024, maxPromptLength: 512, workers: 8,
 *   tokenizerModule: { url: new URL('./my-tokenizer.js', import.meta.url).href, args: { dir: 'models/zephyr' } } });
 */
export async function tokenizePairs(examples: PreferenceExample[], tokenizer: TextTokenizer | null, opts: TokenizePairsOptions): Promise<TokenizedPair[]> {
  checkTokenizeOptions(opts);
  const asked = opts.workers ?? 'auto';
  const workers = asked === 'auto' ? (opts.tokenizerModule && !opts.encoder && examples.length >= 500 ? Math.max(1, availableParallelism() - 1) : 0) : asked;
  if (!Number.isInteger(workers) || workers < 0) throw expected("a non-negative integer or 'auto'", 'workers', asked);
  if (workers === 0 || examples.length === 0) {
    if (!tokenizer) throw expected('a tokenizer when workers is 0', 'tokenizer', tokenizer);
    if (opts.encoder) return runStepsBatched(examples, (ex) => pairSteps(ex, tokenizer, opts), opts.encoder, { chunkSize: opts.chunkSize, onProgress: opts.onProgress });
    return examples.map((ex, i) => {
      const pair = tokenizePair(ex, tokenizer, opts);
      if (opts.onProgress && ((i + 1) % 256 === 0 || i + 1 === examples.length)) opts.onProgress(i + 1, examples.length);
      return pair;
    });
  }
  if (!opts.tokenizerModule) throw expected('{ url, args } of a module exporting createTokenizer', 'tokenizerModule', opts.tokenizerModule);
  const chunk = opts.chunkSize ?? 256;
  const chunks: PreferenceExample[][] = [];
  for (let i = 0; i < examples.length; i += chunk) chunks.push(examples.slice(i, i + chunk));
  const results: TokenizedPair[][] = new Array(chunks.length);
  const options: TokenizeOptions = { maxLength: opts.maxLength, maxPromptLength: opts.maxPromptLength, mode: opts.mode, truncationMode: opts.truncationMode, eotTokenId: opts.eotTokenId };
  const workerData = { module: opts.tokenizerModule.url, args: opts.tokenizerModule.args, options };
  const pool = Array.from({ length: Math.min(workers, chunks.length) }, () => startWorker(workerData));
  let next = 0;
  let done = 0;
  try {
    await Promise.all(pool.map((w) => new Promise<void>((resolve, reject) => {
      const send = (): void => {
        if (next >= chunks.length) return resolve();
        const id = next++;
        w.postMessage({ id, examples: chunks[id] });
      };
      w.on('message', (msg: { id: number; pairs?: TokenizedPair[]; error?: string }) => {
        if (msg.error) return reject(new BfpoError(`tokenization worker: ${msg.error}`));
        results[msg.id] = msg.pairs!;
        done += msg.pairs!.length;
        opts.onProgress?.(done, examples.length);
        send();
      });
      w.on('error', reject);
      send();
    })));
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results.flat();
}
