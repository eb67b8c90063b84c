// Task specifications from the command line (`advbench`, `alert:FILE`, `mc:FILE`, ...) or a recipe, and loading them.
import { basename, extname } from 'node:path';
import { expected } from '../../errors.js';
import { loadExactMatch } from './exact-match.js';
import { loadLmEvalTask, lmEvalTask } from './lm-eval/index.js';
import { loadMultipleChoice } from './multiple-choice.js';
import { advbenchTask, loadBenignPrompts, loadSafetyPrompts, type PromptFormat } from './safety.js';
import type { Task } from './types.js';

/** A task as a recipe writes it (snake_case keys, as in YAML recipes). */
export interface TaskSpec {
  type: 'advbench' | 'safety' | 'over-refusal' | 'multiple-choice' | 'exact-match' | 'lm-eval';
  name?: string;
  path?: string;
  /** safety / over-refusal / exact-match: the prompt field. */
  field?: string;
  format?: PromptFormat;
  limit?: number;
  context_field?: string;
  choices_field?: string;
  gold_field?: string;
  answer_field?: string;
  delimiter?: string;
  metric?: 'acc' | 'acc_norm';
  extract?: string;
  max_new_tokens?: number;
}

/** The task forms accepted by `--tasks`, for help texts. */
export const TASK_HELP: readonly [string, string][] = [
  ['advbench', 'built in: the 388 AdvBench harmful behaviours (safety; judged)'],
  ['truthfulqa_mc1, truthfulqa_mc2, truthfulqa_gen, winogrande, ethics_cm, ethics_deontology, ethics_justice, ethics_utilitarianism, ethics_virtue, crows_pairs_english, toxigen, hhh_alignment, bigbench_*_multiple_choice', 'lm-evaluation-harness 0.4.1 tasks, data from --data-dir in the hub layout (docs/eval.md)'],
  ['realtoxicityprompts, realtoxicityprompts_challenge', 'lm-evaluation-harness 0.4.1 toxicity tasks (data from --data-dir), scored by --toxicity'],
  ['realtoxicityprompts_challenge_bfpo', "the original BFPO evaluation's variant: the same prompts sampled as plain text, judged by --judge (safety)"],
  ['safety:FILE[#FIELD]', 'harmful prompts from JSONL/JSON/Parquet/TXT (field default "prompt"; PKU-SafeRLHF test works as is)'],
  ['pku:FILE', 'PKU-SafeRLHF prompts (field "prompt", repeated prompts kept once)'],
  ['alert:FILE', 'ALERT / ALERT-adversarial prompts (field "prompt", "### Instruction:" wrapper removed)'],
  ['over-refusal:FILE[#FIELD]', 'benign prompts; reports the share refused (refusal judge)'],
  ['mc:FILE', 'multiple choice, lm-evaluation-harness style: {context, choices, gold}; acc and acc_norm'],
  ['em:FILE[#REGEX]', 'generative exact match: {prompt, answer}; greedy; optional answer-extraction regex'],
];

const TYPES: Record<string, TaskSpec['type']> = {
  safety: 'safety', pku: 'safety', alert: 'safety', 'over-refusal': 'over-refusal', mc: 'multiple-choice', em: 'exact-match',
};

/**
 * Parses one `--tasks` entry.
 *
 * @example parseTaskSpec('alert:data/alert.jsonl') // { type: 'safety', path: 'data/alert.jsonl', format: 'alert', name: 'alert' }
 */
export function parseTaskSpec(text: string): TaskSpec {
  const s = text.trim();
  if (s === 'advbench') return { type: 'advbench', name: 'advbench' };
  if (lmEvalTask(s)) return { type: 'lm-eval', name: s };
  const colon = s.indexOf(':');
  const kind = colon > 0 ? s.slice(0, colon) : '';
  if (!(kind in TYPES) || colon === s.length - 1) {
    throw expected(`a task (${TASK_HELP.map(([k]) => k).join(', ')})`, 'task', text);
  }
  let path = s.slice(colon + 1);
  let extra: string | undefined;
  const hash = path.lastIndexOf('#');
  if (hash > 0) [path, extra] = [path.slice(0, hash), path.slice(hash + 1)];
  const spec: TaskSpec = { type: TYPES[kind], path, name: basename(path, extname(path)) };
  if (kind === 'alert') spec.format = 'alert';
  if (kind === 'em') spec.extract = extra;
  else if (extra) spec.field = extra;
  return spec;
}

/** Checks a recipe's task entry (an object) or parses a string entry. */
export function taskSpecFrom(value: unknown, where: string): TaskSpec {
  if (typeof value === 'string') return parseTaskSpec(value);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw expected('a task string or object', where, value);
  const v = value as Record<string, unknown>;
  const types = ['advbench', 'safety', 'over-refusal', 'multiple-choice', 'exact-match', 'lm-eval'];
  if (typeof v.type !== 'string' || !types.includes(v.type)) throw expected(`a task type (${types.join(', ')})`, `${where}.type`, v.type);
  if (v.type === 'lm-eval' && !(typeof v.name === 'string' && lmEvalTask(v.name))) throw expected('a built-in lm-eval task name', `${where}.name`, v.name);
  if (v.type !== 'advbench' && v.type !== 'lm-eval' && typeof v.path !== 'string') throw expected('a file path', `${where}.path`, v.path);
  if (v.limit !== undefined && !(Number.isInteger(v.limit) && (v.limit as number) > 0)) throw expected('a positive integer', `${where}.limit`, v.limit);
  const spec = { ...v } as unknown as TaskSpec;
  spec.name ??= spec.type === 'advbench' ? 'advbench' : basename(spec.path!, extname(spec.path!));
  return spec;
}

/**
 * Loads the task a spec names. `limit` (when the spec has none) keeps only the first samples, for quick runs.
 *
 * @example const task = await loadTask(parseTaskSpec('mc:data/capitals.jsonl'));
 */
export async function loadTask(spec: TaskSpec, o: { limit?: number; dataDir?: string } = {}): Promise<Task> {
  const limit = spec.limit ?? o.limit;
  const name = spec.name ?? spec.type;
  switch (spec.type) {
    case 'advbench':
      return { ...(await advbenchTask({ limit })), name };
    case 'lm-eval':
      return loadLmEvalTask(name, o.dataDir, { limit });
    case 'safety':
      return loadSafetyPrompts(spec.path!, name, { field: spec.field, format: spec.format, limit });
    case 'over-refusal':
      return loadBenignPrompts(spec.path!, name, { field: spec.field, limit });
    case 'multiple-choice':
      return loadMultipleChoice(spec.path!, name, {
        contextField: spec.context_field, choicesField: spec.choices_field, goldField: spec.gold_field,
        delimiter: spec.delimiter, metric: spec.metric, limit,
      });
    case 'exact-match':
      return loadExactMatch(spec.path!, name, { promptField: spec.field, answerField: spec.answer_field, extract: spec.extract, maxNewTokens: spec.max_new_tokens, limit });
  }
}
