// One evaluation from a configuration (command-line flags or a YAML eval recipe): load tasks and judge, run, report.
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { expected } from '../errors.js';
import { TaskDataError } from './errors.js';
import { makeJudge, parseJudgeSpec } from './judges/spec.js';
import { makeToxicityScorer, parseToxicityScorerSpec, toxicityJudge } from './judges/toxicity.js';
import { silentProgress, type Progress } from './progress.js';
import { writeReport, type ReportFiles } from './report.js';
import { openStores, runEval, SAFETY_SAMPLING, type EvalModel, type ModelSource } from './runner.js';
import { summarize, type EvalResults } from './summary.js';
import { recordRun, shapeOf } from './manifest.js';
import type { EvalSplit } from './rank-split.js';
import { bfpoPaperHelpfulnessTasks, bfpoPaperTasks } from './tasks/bfpo-paper.js';
import { loadTask, taskSpecFrom, type TaskSpec } from './tasks/spec.js';
import type { JudgeInput, Task } from './tasks/types.js';
import type { YesNoScorer } from './types.js';

/** An evaluation as a recipe writes it. */
export interface EvalConfig {
  /** Model folders, optionally `NAME=PATH` or `{ name, path }`. */
  models: (string | { name?: string; path: string })[];
  /** Tasks to run (besides a protocol's); may be empty when `protocol` is set. */
  tasks: (string | TaskSpec)[];
  /**
   * `bfpo-paper`: the original's harmlessness table (advbench, alert, alert_adversarial, beaver);
   * `bfpo-paper-helpfulness`: its helpfulness suite of lm-eval tasks; both read from `data_dir`.
   */
  protocol?: (typeof PROTOCOLS)[number];
  /** The folder holding the protocol's and built-in lm-eval tasks' data sets in the Hugging Face hub layout (`Babelscape/ALERT/...`). */
  data_dir?: string;
  /** Overrides how every safety task's judge input is built: `prompt` (plain) or `bfpo-paper`. */
  judge_input?: JudgeInput;
  /** `refusal`, `classifier:PATH` or `endpoint:URL#MODEL`. */
  judge: string;
  out: string;
  /** Keep only the first N samples of each task. */
  limit?: number;
  batch_size?: number;
  max_new_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  /** Parameter dtype and device of local models (used by the command line's loader; default float32 on cpu). */
  dtype?: string;
  device?: string;
  /** The toxicity scorer of toxicity tasks (realtoxicityprompts): `perspective`, `perspective:URL` or `classifier:PATH`. */
  toxicity?: string;
  /** Endpoint judge and scorer settings. */
  timeout_ms?: number;
  retries?: number;
  concurrency?: number;
  /** Requests started per second at most (endpoint judge and Perspective scorer; default: no limit). */
  rate?: number;
}

/** How models and judge models are loaded (the real loader lives in adapter.ts). */
export interface EvaluateHooks {
  loadModel: (source: ModelSource) => Promise<EvalModel>;
  loadYesNoScorer?: (path: string) => Promise<YesNoScorer>;
  progress?: Progress;
  /** This process is one rank of several (see runner's `split`): the work is shared, rank 0 writes the report. */
  split?: EvalSplit;
}

/** Names models by folder name (or the NAME in `NAME=PATH`), adding `-2`, `-3` to repeats. */
export function modelSources(models: EvalConfig['models']): ModelSource[] {
  const used = new Map<string, number>();
  return models.map((m, i) => {
    let name: string | undefined;
    let path: string;
    if (typeof m === 'string') {
      const eq = m.indexOf('=');
      if (eq > 0 && !m.slice(0, eq).includes('/')) [name, path] = [m.slice(0, eq), m.slice(eq + 1)];
      else path = m;
    } else if (m && typeof m === 'object' && typeof m.path === 'string') {
      [name, path] = [m.name, m.path];
    } else {
      throw expected('a model path or { name, path }', `models[${i}]`, m);
    }
    const base = name ?? (basename(resolve(path)) || path);
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    return { name: n === 1 ? base : `${base}-${n}`, path };
  });
}

const RECIPE_KEYS = ['models', 'tasks', 'protocol', 'data_dir', 'judge_input', 'judge', 'out', 'dtype', 'device', 'limit', 'batch_size', 'max_new_tokens', 'temperature', 'top_p', 'seed', 'timeout_ms', 'retries', 'concurrency', 'toxicity', 'rate'];

/** The evaluation protocols `protocol` accepts. */
export const PROTOCOLS = ['bfpo-paper', 'bfpo-paper-helpfulness'] as const;

/** Checks a `protocol` value (undefined passes). */
export function checkProtocol(value: unknown, where: string): void {
  if (value !== undefined && !(PROTOCOLS as readonly unknown[]).includes(value)) throw expected(`a protocol (${PROTOCOLS.join(', ')})`, where, value);
}

/** Checks a `judge_input` value (undefined passes). */
export function checkJudgeInput(value: unknown, where: string): void {
  if (value !== undefined && value !== 'prompt' && value !== 'bfpo-paper') throw expected('a judge input (prompt, bfpo-paper)', where, value);
}

/** Loads a configuration's tasks: the protocol's first (their files checked before anything else), then `tasks`. */
export async function loadConfigTasks(config: EvalConfig): Promise<Task[]> {
  checkProtocol(config.protocol, 'protocol');
  checkJudgeInput(config.judge_input, 'judge_input');
  const tasks: Task[] = [];
  if (config.protocol === 'bfpo-paper') {
    if (!config.data_dir) throw expected('a data folder (--data-dir / data_dir) holding Babelscape/ALERT and PKU-Alignment/PKU-SafeRLHF', 'data_dir', config.data_dir);
    tasks.push(...(await bfpoPaperTasks(config.data_dir, { limit: config.limit })));
  }
  if (config.protocol === 'bfpo-paper-helpfulness') {
    if (!config.data_dir) throw expected('a data folder (--data-dir / data_dir) holding the lm-eval data sets (docs/eval.md)', 'data_dir', config.data_dir);
    tasks.push(...(await bfpoPaperHelpfulnessTasks(config.data_dir, { limit: config.limit })));
  }
  const specs = (config.tasks ?? []).map((t, i) => taskSpecFrom(t, `tasks[${i}]`));
  for (const spec of specs) tasks.push(await loadTask(spec, { limit: config.limit, dataDir: config.data_dir }));
  if (tasks.length === 0) throw expected('a task list or a protocol', 'tasks', config.tasks);
  if (config.judge_input) for (const t of tasks) if (t.kind === 'safety') t.judgeInput = config.judge_input;
  return tasks;
}

/**
 * Reads a YAML eval recipe. Unknown keys and wrong types name the file and the key.
 *
 * @example
 * // eval.yaml:  models: [runs/base, runs/bfpo]   tasks: [advbench, mc:data/capitals.jsonl]   judge: refusal   out: eval-out
 * const config = loadEvalRecipe('eval.yaml');
 */
export function loadEvalRecipe(file: string): EvalConfig {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TaskDataError(file, null, null, `cannot read the recipe (${(err as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new TaskDataError(file, null, null, 'expected a mapping of recipe keys');
  const r = doc as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!RECIPE_KEYS.includes(k)) throw new TaskDataError(file, null, k, `unknown key (known: ${RECIPE_KEYS.join(', ')})`);
  if (!Array.isArray(r.models) || r.models.length === 0) throw new TaskDataError(file, null, 'models', 'expected a non-empty list');
  if (r.tasks === undefined && r.protocol !== undefined) r.tasks = [];
  if (!Array.isArray(r.tasks) || (r.tasks.length === 0 && r.protocol === undefined)) throw new TaskDataError(file, null, 'tasks', 'expected a non-empty list');
  checkProtocol(r.protocol, `${file}, field "protocol"`);
  checkJudgeInput(r.judge_input, `${file}, field "judge_input"`);
  if (typeof r.out !== 'string') throw new TaskDataError(file, null, 'out', 'expected an output folder');
  for (const k of ['judge', 'dtype', 'device', 'data_dir', 'toxicity']) {
    if (r[k] !== undefined && typeof r[k] !== 'string') throw new TaskDataError(file, null, k, `expected a string but found ${JSON.stringify(r[k])}`);
  }
  for (const k of ['limit', 'batch_size', 'max_new_tokens', 'temperature', 'top_p', 'seed', 'timeout_ms', 'retries', 'concurrency', 'rate']) {
    if (r[k] !== undefined && typeof r[k] !== 'number') throw new TaskDataError(file, null, k, `expected a number but found ${JSON.stringify(r[k])}`);
  }
  return { ...(r as unknown as EvalConfig), judge: (r.judge as string | undefined) ?? 'refusal' };
}

/**
 * Runs an evaluation and writes its report into `config.out`. With `hooks.split` every rank calls it; rank 0
 * writes the folder, and the other ranks return the same results and the paths of rank 0's report.
 *
 * @example const { results, files } = await evaluate(config, { loadModel: loadEvalModel, loadYesNoScorer });
 */
export async function evaluate(config: EvalConfig, hooks: EvaluateHooks): Promise<{ results: EvalResults; files: ReportFiles }> {
  const models = modelSources(config.models);
  // Tasks first: a bad task file should fail before a judge model is loaded.
  const judgeSpec = parseJudgeSpec(config.judge);
  const toxicitySpec = config.toxicity !== undefined ? parseToxicityScorerSpec(config.toxicity) : undefined;
  const tasks = await loadConfigTasks(config);
  const http = {
    ...(config.timeout_ms !== undefined ? { timeoutMs: config.timeout_ms } : {}),
    ...(config.retries !== undefined ? { retries: config.retries } : {}),
    ...(config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
    ...(config.rate !== undefined ? { ratePerSecond: config.rate } : {}),
  };
  const judge = await makeJudge(judgeSpec, { loadYesNoScorer: hooks.loadYesNoScorer, endpoint: http });
  // The toxicity scorer is built only when a task needs one (lm-eval's default: the Perspective API).
  const toxicity = tasks.some((t) => t.kind === 'toxicity')
    ? toxicityJudge(await makeToxicityScorer(toxicitySpec ?? { type: 'perspective' }, { loadYesNoScorer: hooks.loadYesNoScorer, http }))
    : undefined;
  const sampling = {
    ...(config.max_new_tokens !== undefined ? { maxNewTokens: config.max_new_tokens } : {}),
    ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
    ...(config.top_p !== undefined ? { topP: config.top_p } : {}),
    ...(config.seed !== undefined ? { seed: config.seed } : {}),
  };
  const progress = hooks.progress ?? silentProgress;
  const split = hooks.split;
  if (split && split.rank !== 0) {
    // Another rank: it does its share of the work; rank 0 writes the manifest, the stores and the report.
    try {
      const stores = await runEval({ models, load: hooks.loadModel, tasks, judge, toxicity, outDir: config.out, sampling, batchSize: config.batch_size, progress, split });
      return { results: { ...summarize(models, tasks.map(shapeOf), stores, judge.name, toxicity?.name), sampling: { ...SAFETY_SAMPLING, ...sampling } },
        files: { results: join(config.out, 'results.json'), markdown: join(config.out, 'results.md'), html: join(config.out, 'index.html') } };
    } finally {
      progress.close();
    }
  }
  // The report covers every model and task stored in the folder, this run's first.
  const manifest = recordRun(config.out, models, tasks);
  try {
    const stores = await runEval({ models, load: hooks.loadModel, tasks, judge, toxicity, outDir: config.out, sampling, batchSize: config.batch_size, progress, split });
    const results = { ...summarize(manifest.models, manifest.tasks, stores, judge.name, toxicity?.name), sampling: { ...SAFETY_SAMPLING, ...sampling } };
    return { results, files: await writeReport(results, config.out) };
  } catch (err) {
    // The report of what did finish is still written (counts show n < total); the error then goes to the caller.
    progress.close();
    await writeReport(summarize(manifest.models, manifest.tasks, openStores(config.out), judge.name, toxicity?.name), config.out).catch(() => undefined);
    throw err;
  } finally {
    progress.close();
  }
}
