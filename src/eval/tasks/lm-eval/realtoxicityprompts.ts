// RealToxicityPrompts as lm-evaluation-harness 0.4.1 defines it (lm_eval/tasks/realtoxicityprompts): dataset
// allenai/real-toxicity-prompts, split train, the raw `prompt.text` continued greedily until "\n\n" (at most 256 new
// tokens, the harness's default), each continuation scored by a toxicity scorer. `_challenge` keeps `challenging` rows.
import { TaskDataError } from '../../errors.js';
import { readRecords, sampleId, type NumberedRecord } from '../../records.js';
import type { GenerationSettings } from '../../types.js';
import type { SafetyTask, ToxicityTask } from '../types.js';
import { registerLmEvalTasks } from './registry.js';

/** lm-eval's generation settings for the task: greedy, until "\n\n", max_gen_toks 256. */
export const RTP_SAMPLING: Partial<GenerationSettings> = { temperature: 0, topP: 1, maxNewTokens: 256, stop: ['\n\n'] };

/** The prompt text of a row (`prompt.text`), or a TaskDataError naming file, row and field. */
function promptText(file: string, r: NumberedRecord): string {
  const p = r.record.prompt;
  if (p === undefined) throw new TaskDataError(file, r.row, 'prompt', 'missing');
  const text = p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>).text : undefined;
  if (typeof text !== 'string' || text === '') throw new TaskDataError(file, r.row, 'prompt.text', `expected a non-empty string but found ${JSON.stringify(text ?? p)}`);
  return text;
}

/** The `challenging` flag of a row (a boolean), or a TaskDataError naming file, row and field. */
function challenging(file: string, r: NumberedRecord): boolean {
  const c = r.record.challenging;
  if (typeof c !== 'boolean') throw new TaskDataError(file, r.row, 'challenging', `expected true or false but found ${JSON.stringify(c)}`);
  return c;
}

/**
 * Loads RealToxicityPrompts from the hub's `prompts.jsonl` (one object per line with a nested `prompt` and the
 * `challenging` flag). Sample ids are `row<N>`, the row in the whole file, so a subset keeps stable ids.
 *
 * @example const task = await loadRealToxicityPrompts('/data/allenai/real-toxicity-prompts/prompts.jsonl', { challenge: true });
 */
export async function loadRealToxicityPrompts(file: string, o: { challenge?: boolean; limit?: number; name?: string } = {}): Promise<ToxicityTask> {
  const rows = await readRecords(file);
  const kept = o.challenge ? rows.filter((r) => challenging(file, r)) : rows;
  const samples = (o.limit === undefined ? kept : kept.slice(0, o.limit)).map((r) => ({ id: sampleId(r), prompt: promptText(file, r) }));
  if (samples.length === 0) throw new TaskDataError(file, null, o.challenge ? 'challenging' : null, o.challenge ? 'no row is marked challenging' : 'no rows');
  return { kind: 'toxicity', name: o.name ?? (o.challenge ? 'realtoxicityprompts_challenge' : 'realtoxicityprompts'), samples, sampling: RTP_SAMPLING };
}

/**
 * Decoding of the original BFPO evaluation's own `realtoxicityprompts_challenge` (its data/eval-tasks YAML): sampled
 * at temperature 0.7 without top-p, until a blank line, at most 256 new tokens (lm-eval's default).
 */
export const RTP_BFPO_SAMPLING: Partial<GenerationSettings> = { temperature: 0.7, topP: 1, maxNewTokens: 256, stop: ['\n\n'] };

/**
 * The original BFPO evaluation's own variant of `realtoxicityprompts_challenge`: the challenging prompts continued
 * as plain text (no chat template) with RTP_BFPO_SAMPLING, each continuation judged for harm by the safety judge with
 * the bfpo-paper judge input and the prompt as the reference; the metric is harmlessness. The task is named
 * `realtoxicityprompts_challenge_bfpo` so that it can sit next to lm-eval's toxicity-scored task in one folder.
 *
 * @example const task = await loadRealToxicityPromptsBfpo('/data/allenai/real-toxicity-prompts/prompts.jsonl');
 */
export async function loadRealToxicityPromptsBfpo(file: string, o: { limit?: number } = {}): Promise<SafetyTask> {
  const base = await loadRealToxicityPrompts(file, { challenge: true, limit: o.limit });
  return {
    kind: 'safety',
    name: 'realtoxicityprompts_challenge_bfpo',
    samples: base.samples.map((s) => ({ id: s.id, prompt: s.prompt, behavior: s.prompt, reference: s.prompt })),
    sampling: RTP_BFPO_SAMPLING,
    judgeInput: 'bfpo-paper',
    plainText: true,
  };
}

const FILES = ['allenai/real-toxicity-prompts/prompts.jsonl'];

registerLmEvalTasks(
  { name: 'realtoxicityprompts', dataset: 'allenai/real-toxicity-prompts, train', files: FILES, load: (f, o) => loadRealToxicityPrompts(f, { ...o }) },
  { name: 'realtoxicityprompts_challenge', dataset: 'allenai/real-toxicity-prompts, train, rows with challenging = true', files: FILES, load: (f, o) => loadRealToxicityPrompts(f, { ...o, challenge: true }) },
  { name: 'realtoxicityprompts_challenge_bfpo', dataset: 'allenai/real-toxicity-prompts, train, rows with challenging = true', files: FILES, load: (f, o) => loadRealToxicityPromptsBfpo(f, o) },
);
