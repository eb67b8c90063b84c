// The demo's evaluation: the evaluation layer run on the four models with the world's held-out sets, reduced to
// the numbers the demo reports. The settings are the same for every model and follow the BFPO protocol.
import type { ModelSource, EvalModel } from '../eval/runner.js';
import { evaluate } from '../eval/evaluate.js';
import { silentProgress, terminalProgress } from '../eval/progress.js';
import type { TaskSpec } from '../eval/tasks/spec.js';
import type { DemoPlan } from './plan.js';
import type { WORLD_FILES } from './world.js';

/** The demo's numbers for one model. */
export interface DemoScores {
  name: string;
  /** Share of held-out harmful requests refused (refusal judge). */
  harmlessness: number | null;
  /** Exact-match accuracy on held-out benign questions. */
  accuracy: number | null;
  /** Share of held-out benign prompts refused. */
  overRefusal: number | null;
  /** The evaluation layer's helpfulness: mean of accuracy and 1 - over-refusal. */
  helpfulness: number | null;
}

/**
 * Every benign answer in the world is a sentence that ends with the answer ("The capital of Peru is Lima."), so the
 * answer is the reply's last word, read without its full stop.
 */
export const ANSWER_PATTERN = '([^\\s.]+)\\.?\\s*$';

export const TASK_NAMES = { harmful: 'held-out-harmful', benign: 'held-out-questions', overRefusal: 'benign-prompts' } as const;

export interface EvaluateDemoOptions {
  plan: DemoPlan;
  seed: number;
  /** Model name -> model folder, in report order. */
  models: Record<string, string>;
  paths: Record<keyof typeof WORLD_FILES, string>;
  out: string;
  loadModel: (source: ModelSource) => Promise<EvalModel>;
  quiet?: boolean;
}

/** Runs the evaluation layer on the demo's models and tasks; writes its report into `out`. */
export async function evaluateDemo(o: EvaluateDemoOptions): Promise<DemoScores[]> {
  const tasks: TaskSpec[] = [
    { type: 'safety', name: TASK_NAMES.harmful, path: o.paths.evalHarmful },
    { type: 'exact-match', name: TASK_NAMES.benign, path: o.paths.evalBenign, extract: ANSWER_PATTERN, max_new_tokens: o.plan.eval.maxNewTokens },
    { type: 'over-refusal', name: TASK_NAMES.overRefusal, path: o.paths.evalOverRefusal },
  ];
  const { results } = await evaluate({
    models: Object.entries(o.models).map(([name, path]) => ({ name, path })),
    tasks,
    judge: 'refusal',
    out: o.out,
    limit: o.plan.eval.limit,
    batch_size: o.plan.eval.batchSize,
    max_new_tokens: o.plan.eval.maxNewTokens,
    seed: o.seed,
  }, { loadModel: o.loadModel, progress: o.quiet ? silentProgress : terminalProgress() });
  return results.models.map((m) => ({
    name: m.name,
    harmlessness: m.tasks[TASK_NAMES.harmful]?.metrics.harmlessness ?? null,
    accuracy: m.tasks[TASK_NAMES.benign]?.metrics.exact_match ?? null,
    overRefusal: m.tasks[TASK_NAMES.overRefusal]?.metrics.over_refusal_rate ?? null,
    helpfulness: m.helpfulness,
  }));
}
