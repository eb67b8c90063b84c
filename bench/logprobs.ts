// The head's token log-probs, forward + backward: the fused native op (tokenLogProbs) against the composed ops it
// replaced (float32 cast, log_softmax, gather), on packed logits [rows, vocab] as the training step scores them.
// Run: npm run bench -- logprobs [--logprob-rows=2000] [--logprob-vocab=32000] [--logprob-reps=7]
// [--logprob-dtypes=float32,bfloat16]. Each figure is the best of the repeats (the machine may be shared).
import { manualSeed, randint, randn, tidy, type DType, type Tensor } from 'bfpo';
import { tokenLogProbs } from 'bfpo/tensor';
import type { BenchRow } from './util.js';

const composed = (x: Tensor, t: Tensor): Tensor =>
  (x.dtype === 'float32' ? x : x.float()).logSoftmax(1).gather(1, t.unsqueeze(1)).squeeze(1);

/** Best wall time in ms of `fn` over `reps` runs, after one warm-up. */
function bestMs(fn: () => void, reps: number): number {
  fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
}

export async function benchLogprobs(): Promise<BenchRow[]> {
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const n = Number(arg('logprob-rows') ?? 2000);
  const v = Number(arg('logprob-vocab') ?? 32000);
  const reps = Number(arg('logprob-reps') ?? 7);
  const dtypes = (arg('logprob-dtypes') ?? 'float32,bfloat16').split(',') as DType[];
  const rows: BenchRow[] = [];
  for (const dtype of dtypes) {
    manualSeed(0);
    const x = randn([n, v]).mul(2).to(dtype).requiresGrad_();
    const t = randint(0, v, [n]);
    const g = randn([n]);
    const step = (fn: (x: Tensor, t: Tensor) => Tensor, backward: boolean) => () => tidy(() => {
      const out = fn(x, t);
      if (backward) {
        out.mul(g).sum().backward();
        x.grad = null;
      } else {
        out.sum().item();
      }
    });
    const fusedFb = bestMs(step(tokenLogProbs, true), reps);
    const composedFb = bestMs(step(composed, true), reps);
    const fusedF = bestMs(step(tokenLogProbs, false), reps);
    const composedF = bestMs(step(composed, false), reps);
    const note = 'reference: the composed ops, logSoftmax + gather' + (dtype === 'float32' ? '' : ' after a float32 cast');
    rows.push({ name: `token log-probs [${n}, ${v}] ${dtype}, forward + backward, best of ${reps}`, unit: 'ms', ours: fusedFb, torch: composedFb, ratio: composedFb / fusedFb, note });
    rows.push({ name: `token log-probs [${n}, ${v}] ${dtype}, forward only, best of ${reps}`, unit: 'ms', ours: fusedF, torch: composedF, ratio: composedF / fusedF, note });
    x.dispose();
    t.dispose();
    g.dispose();
  }
  return rows;
}
