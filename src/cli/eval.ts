// `bfpo eval`: argument parsing for the evaluation (flags or a YAML eval recipe); the work is in src/eval.
import { parseArgs } from 'node:util';
import type { Device, DType } from '../tensor/dtype.js';
import { expected } from '../tensor/errors.js';
import { loadEvalModel, loadYesNoScorer } from '../eval/adapter.js';
import { evaluate, loadEvalRecipe, type EvalConfig, type EvaluateHooks } from '../eval/evaluate.js';
import { JUDGE_HELP } from '../eval/judges/spec.js';
import { markdownTable } from '../eval/report.js';
import { terminalProgress } from '../eval/progress.js';
import { TASK_HELP } from '../eval/tasks/spec.js';

const table = (rows: readonly [string, string][]) => rows.map(([k, v]) => `  ${k.padEnd(28)}${v}`).join('\n');

/** The usage line of `bfpo eval`. */
export const EVAL_USAGE = 'bfpo eval --model PATH [--model PATH ...] --tasks LIST --judge SPEC --out DIR [options]  |  bfpo eval RECIPE.yaml [options]';

/** The help text of `bfpo eval` after its usage line: what it does, the built-in tasks and judges, the options. */
export const EVAL_HELP = `Generates answers to harmful prompts (temperature 0.7, top-p 0.95, seeded, batched), judges them, scores
helpfulness tasks, and writes results.json, results.md, harmlessness-helpfulness.svg/.png and index.html into DIR.
Every generation, judgement and score is appended to DIR/*.jsonl as it finishes; rerunning into DIR skips them.

Tasks (--tasks, comma-separated):
${table(TASK_HELP)}

Judges (--judge):
${table(JUDGE_HELP)}

Options:
  --model PATH          a model folder (repeatable); NAME=PATH names its row and point
  --tasks LIST          tasks, comma-separated (see above)
  --judge SPEC          the safety judge (default refusal)
  --out DIR             output folder
  --recipe FILE         a YAML eval recipe (keys: models, tasks, judge, out, dtype, device, limit, batch_size, max_new_tokens,
                        temperature, top_p, seed, timeout_ms, retries, concurrency); flags override it
  --dtype D             dtype of local models: float32 (default on cpu), bfloat16, float16 (cuda)
  --device D            cpu (default) or cuda
  --limit N             only the first N samples of each task
  --batch-size N        prompts generated per batch (default 8)
  --max-new-tokens N    generation length for safety and benign prompts (default 256)
  --temperature X       sampling temperature (default 0.7)
  --top-p X             nucleus sampling (default 0.95)
  --seed N              base seed; batch i uses seed + i (default 42)
  --timeout-ms N        endpoint judge: per-request timeout (default 60000)
  --retries N           endpoint judge: retries after a failure, with doubling backoff (default 4)
  --concurrency N       endpoint judge: requests in flight (default 4)
  -h, --help            this text
`;

function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw expected('a number', name, value);
  return n;
}

/** Turns `bfpo eval` arguments into an evaluation config (recipe first, flags on top). */
export function parseEvalArgs(argv: string[]): EvalConfig | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', multiple: true }, tasks: { type: 'string', multiple: true }, judge: { type: 'string' },
      out: { type: 'string' }, dtype: { type: 'string' }, device: { type: 'string' }, recipe: { type: 'string' }, limit: { type: 'string' }, 'batch-size': { type: 'string' },
      'max-new-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' },
      'timeout-ms': { type: 'string' }, retries: { type: 'string' }, concurrency: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 1) throw expected('at most one recipe file', 'arguments', positionals);
  const recipe = values.recipe ?? positionals[0];
  const base: Partial<EvalConfig> = recipe ? loadEvalRecipe(recipe) : {};
  const flags: Partial<EvalConfig> = {
    ...(values.model ? { models: values.model } : {}),
    ...(values.tasks ? { tasks: values.tasks.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean) } : {}),
    ...(values.judge ? { judge: values.judge } : {}),
    ...(values.out ? { out: values.out } : {}),
    ...(values.dtype ? { dtype: values.dtype } : {}),
    ...(values.device ? { device: values.device } : {}),
  };
  const numeric: [keyof EvalConfig, string][] = [
    ['limit', 'limit'], ['batch_size', 'batch-size'], ['max_new_tokens', 'max-new-tokens'], ['temperature', 'temperature'],
    ['top_p', 'top-p'], ['seed', 'seed'], ['timeout_ms', 'timeout-ms'], ['retries', 'retries'], ['concurrency', 'concurrency'],
  ];
  for (const [key, flag] of numeric) {
    const v = num(values[flag as keyof typeof values] as string | undefined, `--${flag}`);
    if (v !== undefined) (flags as Record<string, unknown>)[key] = v;
  }
  const config = { judge: 'refusal', ...base, ...flags } as EvalConfig;
  if (!config.models?.length) throw expected('at least one --model PATH', '--model', config.models);
  if (!config.tasks?.length) throw expected('a task list', '--tasks', config.tasks);
  if (!config.out) throw expected('an output folder', '--out', config.out);
  return config;
}

/**
 * Runs `bfpo eval` with local models (or the given hooks, for tests). Prints the results table and the files written.
 *
 * @example await evalCommand(['--model', 'runs/bfpo', '--tasks', 'advbench', '--judge', 'refusal', '--out', 'eval-out']);
 */
export async function evalCommand(argv: string[], hooks: Partial<EvaluateHooks> = {}): Promise<void> {
  const config = parseEvalArgs(argv);
  if (config === 'help') {
    process.stdout.write(`Usage: ${EVAL_USAGE}\n\n${EVAL_HELP}`);
    return;
  }
  const load = { ...(config.dtype ? { dtype: config.dtype as DType } : {}), ...(config.device ? { device: config.device as Device } : {}) };
  const { results, files } = await evaluate(config, {
    loadModel: (s) => loadEvalModel(s, load), loadYesNoScorer: (p) => loadYesNoScorer(p, load), progress: terminalProgress(), ...hooks,
  });
  process.stdout.write(`${markdownTable(results)}\nWrote ${Object.values(files).join(', ')}\n`);
}

/** The entry of the command table. */
export const EVAL_COMMAND = {
  name: 'eval',
  summary: 'Evaluate harmlessness and helpfulness of models: judged safety generations, multiple choice, exact match, over-refusal; table, plot, HTML report',
  usage: EVAL_USAGE,
  help: () => EVAL_HELP,
  run: (args: string[]) => evalCommand(args),
};
