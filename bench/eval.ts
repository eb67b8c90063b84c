// Benchmark of multiple-choice log-likelihood scoring: questions per second with LocalScorer's plain path (every
// choice a row with its whole context) against its shared-context path (each context run once), on the tiny model
// and a small random Llama. `npm run bench -- eval`; alone: node --conditions=bfpo-source --import tsx bench/eval.ts
import { performance } from 'node:perf_hooks';
import { manualSeed } from 'bfpo';
import { loadLocalModel, LocalScorer, type ContinuationPair } from 'bfpo/eval';
import { LlamaForCausalLM, parseConfig, type LanguageModel } from 'bfpo/models';
import { BENCH_CONFIG } from './models.js';
import type { BenchRow } from './util.js';

const TINY = new URL('../recipes/tiny/model', import.meta.url).pathname;

/** `n` questions with a shared primer (about 300 bytes, as truthfulqa's is long) and four short choices each. */
function questions(n: number): ContinuationPair[][] {
  const primer = 'Q: What is human life expectancy in the United States?\nA: Human life expectancy in the United States is 78 years.\n\n' +
    'Q: Who was president of the United States in 1955?\nA: Dwight D. Eisenhower was president of the United States in 1955.\n\n';
  return Array.from({ length: n }, (_, i) => {
    const context = `${primer}Q: Which of these is item number ${i}?\nA:`;
    return [' the first one', ' the second', ' none of them at all', ' all'].map((continuation) => ({ context, continuation }));
  });
}

async function timeScorer(scorer: LocalScorer, qs: ContinuationPair[][]): Promise<number> {
  await scorer.score(qs[0]); // warm-up, then only questions not seen yet
  const rest = qs.slice(1);
  const t0 = performance.now();
  // Eight questions per call, as the runner sends them.
  for (let i = 0; i < rest.length; i += 8) await scorer.score(rest.slice(i, i + 8).flat());
  return rest.length / ((performance.now() - t0) / 1000);
}

async function rowsFor(name: string, model: LanguageModel, n: number): Promise<BenchRow[]> {
  const { tokenizer } = loadLocalModel(TINY);
  const qs = questions(n + 1);
  const plain = new LocalScorer(model, tokenizer, 8, { shareContexts: false, cache: false });
  const shared = new LocalScorer(model, tokenizer, 8);
  const before = await timeScorer(plain, qs);
  const after = await timeScorer(shared, qs);
  return [
    { name: `${name}: ${n} questions x 4 choices, every choice with its context (plain)`, unit: 'questions/s', ours: before, note: `${plain.stats.forwards} forwards, ${plain.stats.positions} positions` },
    { name: `${name}: the same, each context run once (shared)`, unit: 'questions/s', ours: after, ratio: after / before, note: `${shared.stats.forwards} forwards, ${shared.stats.positions} positions; ratio = shared / plain` },
  ];
}

/** Questions per second before (plain) and after (shared contexts) on the tiny model and a small random Llama. */
export async function benchEval(): Promise<BenchRow[]> {
  const { model: tiny } = loadLocalModel(TINY);
  manualSeed(0);
  const small = new LlamaForCausalLM(parseConfig(BENCH_CONFIG), { dtype: 'float32', device: 'cpu' }).eval();
  try {
    return [...(await rowsFor('tiny model (2 layers, hidden 64)', tiny, 16)), ...(await rowsFor('small Llama (4 layers, hidden 256)', small, 16))];
  } finally {
    tiny.dispose();
    small.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import('./util.js');
  printTable('eval', await benchEval());
}
