// `bfpo eval`: argument parsing for the evaluation (flags or a YAML eval recipe); the work is in src/eval.
import { parseOptions } from './options.js';
import type { DType } from '../tensor/dtype.js';
import { checkDeviceSetting, resolveDevice } from '../tensor/device.js';
import { expected } from '../errors.js';
import { loadEvalModel, loadYesNoScorer } from '../eval/adapter.js';
import { checkJudgeInput, checkProtocol, evaluate, loadEvalRecipe, type EvalConfig, type EvaluateHooks } from '../eval/evaluate.js';
import { markdownTable } from '../eval/report.js';
import { parseToxicityScorerSpec } from '../eval/judges/toxicity.js';
import { terminalProgress } from '../eval/progress.js';
import { EVAL_HELP, EVAL_RANKS_HELP, EVAL_USAGE } from './eval-help.js';
import { launchRanks, takeLaunchFlags, wantsLaunch } from './launch.js';
import { rankEnv } from '../parallel/env.js';
import { assertBackendAvailable } from '../parallel/group.js';
import { asRank, joinGroup } from '../recipe/run-ranks.js';
import { groupSplit, type EvalSplit } from '../eval/rank-split.js';
import { cuda } from '../tensor/runtime.js';
import type { Device } from '../tensor/dtype.js';

function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw expected('a number', name, value);
  return n;
}

/** Turns `bfpo eval` arguments into an evaluation config (recipe first, flags on top). */
export function parseEvalArgs(argv: string[]): EvalConfig | 'help' {
  const { values, positionals } = parseOptions('bfpo eval', argv, {
      model: { type: 'string', multiple: true }, tasks: { type: 'string', multiple: true }, judge: { type: 'string' },
      out: { type: 'string' }, protocol: { type: 'string' }, 'data-dir': { type: 'string' }, 'judge-input': { type: 'string' }, dtype: { type: 'string' }, device: { type: 'string' }, recipe: { type: 'string' }, limit: { type: 'string' }, 'batch-size': { type: 'string' },
      'max-new-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' },
      'timeout-ms': { type: 'string' }, retries: { type: 'string' }, concurrency: { type: 'string' }, toxicity: { type: 'string' }, rate: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    }, true);
  if (values.help) return 'help';
  if (positionals.length > 1) throw expected('at most one recipe file', 'arguments', positionals);
  const recipe = values.recipe ?? positionals[0];
  const base: Partial<EvalConfig> = recipe ? loadEvalRecipe(recipe) : {};
  const flags: Partial<EvalConfig> = {
    ...(values.model ? { models: values.model } : {}),
    ...(values.tasks ? { tasks: values.tasks.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean) } : {}),
    ...(values.judge ? { judge: values.judge } : {}),
    ...(values.out ? { out: values.out } : {}),
    ...(values.protocol ? { protocol: values.protocol as EvalConfig['protocol'] } : {}),
    ...(values['data-dir'] ? { data_dir: values['data-dir'] } : {}),
    ...(values['judge-input'] ? { judge_input: values['judge-input'] as EvalConfig['judge_input'] } : {}),
    ...(values.dtype ? { dtype: values.dtype } : {}),
    ...(values.device ? { device: values.device } : {}),
    ...(values.toxicity ? { toxicity: values.toxicity } : {}),
  };
  const numeric: [keyof EvalConfig, string][] = [
    ['limit', 'limit'], ['batch_size', 'batch-size'], ['max_new_tokens', 'max-new-tokens'], ['temperature', 'temperature'],
    ['top_p', 'top-p'], ['seed', 'seed'], ['timeout_ms', 'timeout-ms'], ['retries', 'retries'], ['concurrency', 'concurrency'], ['rate', 'rate'],
  ];
  for (const [key, flag] of numeric) {
    const v = num(values[flag as keyof typeof values] as string | undefined, `--${flag}`);
    if (v !== undefined) (flags as Record<string, unknown>)[key] = v;
  }
  const config = { judge: 'refusal', ...base, ...flags } as EvalConfig;
  if (!config.models?.length) throw expected('at least one --model PATH', '--model', config.models);
  checkProtocol(config.protocol, '--protocol');
  checkJudgeInput(config.judge_input, '--judge-input');
  if (config.toxicity !== undefined) parseToxicityScorerSpec(config.toxicity);
  if (!config.tasks?.length && !config.protocol) throw expected('a task list (or --protocol bfpo-paper)', '--tasks', config.tasks);
  config.tasks ??= [];
  if (!config.out) throw expected('an output folder', '--out', config.out);
  return config;
}

/**
 * Runs `bfpo eval` with local models (or the given hooks, for tests). Prints the results table and the files written.
 *
 * @example await evalCommand(['--model', 'runs/bfpo', '--tasks', 'advbench', '--judge', 'refusal', '--out', 'eval-out']);
 */
export async function evalCommand(argv: string[], hooks: Partial<EvaluateHooks> = {}): Promise<void> {
  const { flags, rest } = takeLaunchFlags(argv);
  const config = parseEvalArgs(rest);
  if (config === 'help') {
    process.stdout.write(`Usage: ${EVAL_USAGE}\n\n${EVAL_HELP.trimEnd()}\n\n${EVAL_RANKS_HELP}\n`);
    return;
  }
  if (wantsLaunch(flags)) {
    assertBackendAvailable(flags.backend === 'nccl' ? 'nccl' : 'gloo');
    const code = await launchRanks('eval', rest, flags, (t) => process.stderr.write(`bfpo: ${t}\n`));
    if (code !== 0) process.exitCode = code;
    return;
  }
  const env = rankEnv();
  let device = resolveDevice(checkDeviceSetting(config.device ?? 'auto', '--device'), '--device');
  // A rank on a CUDA machine evaluates on the device of its LOCAL_RANK (round robin when ranks outnumber devices).
  if (env && device.startsWith('cuda') && !/^cuda:\d+$/.test(config.device ?? '')) device = `cuda:${env.localRank % Math.max(1, cuda.deviceCount())}` as Device;
  const load = { ...(config.dtype ? { dtype: config.dtype as DType } : {}), device };
  const run = (split?: EvalSplit) => evaluate(config, {
    loadModel: (s) => loadEvalModel(s, load), loadYesNoScorer: (p) => loadYesNoScorer(p, load), progress: terminalProgress(), ...(split ? { split } : {}), ...hooks,
  });
  if (!env) {
    const { results, files } = await run();
    process.stdout.write(`${markdownTable(results)}\nWrote ${Object.values(files).join(', ')}\n`);
    return;
  }
  const group = joinGroup(env);
  try {
    const { results, files } = await asRank({ isMain: group.rank === 0 }, () => run(groupSplit(group)));
    if (group.rank === 0) process.stdout.write(`${markdownTable(results)}\nWrote ${Object.values(files).join(', ')}\n`);
  } finally {
    group.destroy();
  }
}
