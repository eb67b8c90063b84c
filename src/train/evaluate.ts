// Evaluation over a whole eval source (no autograd, dropout off) and the running means of logged metrics.
import { noGrad } from '../tensor/autograd.js';
import { runStep, taskSteps } from './steps.js';
import { disposeBatch, type CausalLM, type TrainingTask } from './types.js';

/** Means of metrics added since the last `take()`; a key absent from some entries averages over those that have it. */
export class MetricAverager {
  #sum = new Map<string, number>();
  #count = new Map<string, number>();

  add(values: Record<string, number>): void {
    for (const [k, v] of Object.entries(values)) {
      if (!Number.isFinite(v)) continue;
      this.#sum.set(k, (this.#sum.get(k) ?? 0) + v);
      this.#count.set(k, (this.#count.get(k) ?? 0) + 1);
    }
  }

  peek(key: string): number | undefined {
    const n = this.#count.get(key);
    return n ? (this.#sum.get(key) as number) / n : undefined;
  }

  take(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, s] of this.#sum) out[k] = s / (this.#count.get(k) as number);
    this.#sum.clear();
    this.#count.clear();
    return out;
  }
}

/** The full metric set over every eval batch (keys prefixed `eval_`); the training position is left untouched. */
export function runEvaluation(model: CausalLM, task: TrainingTask, onBatch?: (done: number, total: number) => void): Record<string, number> {
  const source = task.eval;
  if (!source) return {};
  model.train?.(false);
  const avg = new MetricAverager();
  const head = taskSteps(task).head('eval');
  source.seek({ epoch: 0, batch: 0 });
  let done = 0;
  noGrad(() => {
    for (let b = source.next(); b !== null; b = source.next()) {
      try {
        const out = runStep(model, b, head);
        avg.add({ ...out.metrics, loss: out.loss.item() });
        out.loss.dispose();
        onBatch?.(++done, source.length);
      } finally {
        disposeBatch(b);
      }
    }
  });
  model.train?.(true);
  return Object.fromEntries(Object.entries(avg.take()).map(([k, v]) => [`eval_${k}`, v]));
}
