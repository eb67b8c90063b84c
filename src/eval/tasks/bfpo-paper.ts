// The harmlessness tasks of the original BFPO evaluation (wx-zhang/bfpo, data/eval-tasks/*.yaml): AdvBench, ALERT,
// ALERT-adversarial and PKU-SafeRLHF ("beaver"), with each task's prompt rendering, target and generation settings.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TaskDataError } from '../errors.js';
import { readRecords, sampleId, stringField, type NumberedRecord } from '../records.js';
import type { GenerationSettings } from '../types.js';
import { loadLmEvalTask } from './lm-eval/index.js';
import { advbenchPath } from './safety.js';
import type { SafetySample, SafetyTask, Task } from './types.js';

/**
 * Generation settings per task, from the original's task YAMLs. None sets `max_gen_toks`, so lm-eval 0.4.1's
 * default of 256 new tokens holds; `until` is empty, so generation stops at the end-of-sequence token only.
 * advbench.yaml and beaver.yaml: `do_sample: True, temperature: 0.7, top_p: 0.95`; alert.yaml and
 * alert_adversarial.yaml: `do_sample: True, temperature: 0.7` and no top-p (top_p 1).
 */
export const BFPO_PAPER_SAMPLING: Record<'advbench' | 'alert' | 'alert_adversarial' | 'beaver', Partial<GenerationSettings>> = {
  advbench: { temperature: 0.7, topP: 0.95, maxNewTokens: 256 },
  alert: { temperature: 0.7, topP: 1, maxNewTokens: 256 },
  alert_adversarial: { temperature: 0.7, topP: 1, maxNewTokens: 256 },
  beaver: { temperature: 0.7, topP: 0.95, maxNewTokens: 256 },
};

/** Where the protocol reads each data set, relative to its data folder (the Hugging Face hub repositories' layout). */
export const BFPO_PAPER_FILES = {
  alert: ['Babelscape/ALERT/alert.jsonl'],
  alert_adversarial: ['Babelscape/ALERT/alert_adversarial.jsonl'],
  beaver: ['PKU-Alignment/PKU-SafeRLHF/test.jsonl', 'PKU-Alignment/PKU-SafeRLHF/data/test.jsonl', 'PKU-Alignment/PKU-SafeRLHF/data/test-00000-of-00001.parquet'],
} as const;

/**
 * A prompt rendered as lm-eval's `"{{text}}. "` template does (AdvBench and PKU-SafeRLHF): the text, a full stop
 * and a space; the target is `"{{text}}."`.
 */
function periodSpace(id: string, text: string): SafetySample {
  return { id, prompt: `${text}. `, behavior: text, reference: `${text}.` };
}

const ALERT_WRAPPER = /^### Instruction:\n([\s\S]*?)\n### Response:\n/;

/**
 * ALERT's `doc_to_text` (utils.py): the text between `### Instruction:\n` and the first `\n### Response:\n`, from the
 * start of the prompt, stripped. A prompt without that wrapper is an error, as in the original (an assertion there).
 */
export function alertDocToText(file: string, r: NumberedRecord): string {
  const text = stringField(file, r, 'prompt');
  const m = ALERT_WRAPPER.exec(text);
  if (!m) throw new TaskDataError(file, r.row, 'prompt', 'expected "### Instruction:\\n<prompt>\\n### Response:\\n" (the ALERT wrapper)');
  return m[1].trim();
}

const limited = <T>(xs: T[], limit?: number) => (limit === undefined ? xs : xs.slice(0, limit));

/**
 * AdvBench as the original's advbench.yaml: every line of advbench.txt (the `text` loader's rows), the prompt
 * `"{{text}}. "`, target `"{{text}}."`; ids `advbench-<row>`.
 */
export async function paperAdvbench(o: { limit?: number; file?: string } = {}): Promise<SafetyTask> {
  const file = o.file ?? advbenchPath();
  const samples = (await readRecords(file)).map((r) => periodSpace(`advbench-${r.row}`, stringField(file, r, 'text')));
  return { kind: 'safety', name: 'advbench', samples: limited(samples, o.limit), sampling: BFPO_PAPER_SAMPLING.advbench, judgeInput: 'bfpo-paper' };
}

/** ALERT or ALERT-adversarial (Babelscape/ALERT, test split): prompt and target are the unwrapped instruction. */
export async function paperAlert(file: string, name: 'alert' | 'alert_adversarial', o: { limit?: number } = {}): Promise<SafetyTask> {
  const samples = (await readRecords(file)).map((r) => {
    const text = alertDocToText(file, r);
    return { id: sampleId(r), prompt: text, behavior: text, reference: text, ...(typeof r.record.category === 'string' ? { category: r.record.category } : {}) };
  });
  return { kind: 'safety', name, samples: limited(samples, o.limit), sampling: BFPO_PAPER_SAMPLING[name], judgeInput: 'bfpo-paper' };
}

/**
 * PKU-SafeRLHF test split as the original's beaver.yaml: every row (a prompt listed with several response pairs is
 * asked as often as it is listed, as lm-eval does), prompt `"{{prompt}}. "`, target `"{{prompt}}."`; ids `row<N>`.
 */
export async function paperBeaver(file: string, o: { limit?: number } = {}): Promise<SafetyTask> {
  const samples = (await readRecords(file)).map((r) => periodSpace(`row${r.row}`, stringField(file, r, 'prompt')));
  return { kind: 'safety', name: 'beaver', samples: limited(samples, o.limit), sampling: BFPO_PAPER_SAMPLING.beaver, judgeInput: 'bfpo-paper' };
}

function findFile(dataDir: string, task: keyof typeof BFPO_PAPER_FILES): string {
  for (const rel of BFPO_PAPER_FILES[task]) {
    const p = join(dataDir, rel);
    if (existsSync(p)) return p;
  }
  throw new TaskDataError(join(dataDir, BFPO_PAPER_FILES[task][0]), null, null,
    `missing: the ${task} task of the bfpo-paper protocol reads one of ${BFPO_PAPER_FILES[task].map((f) => join(dataDir, f)).join(', ')} ` +
    '(download the dataset from the Hugging Face hub into that folder; docs/eval.md names the repositories)');
}

/** The task names of the protocol's harmlessness table, in the paper's order. */
export const BFPO_PAPER_TASKS = ['advbench', 'alert', 'alert_adversarial', 'beaver'] as const;

/**
 * The whole harmlessness table of the original: AdvBench (built-in copy), ALERT, ALERT-adversarial and PKU-SafeRLHF
 * test prompts from `dataDir` in the hub's layout. Missing files fail before any model is loaded, naming the paths.
 *
 * @example const tasks = await bfpoPaperTasks('/data/hf');
 */
export async function bfpoPaperTasks(dataDir: string, o: { limit?: number } = {}): Promise<SafetyTask[]> {
  const files = { alert: findFile(dataDir, 'alert'), alert_adversarial: findFile(dataDir, 'alert_adversarial'), beaver: findFile(dataDir, 'beaver') };
  return [
    await paperAdvbench(o),
    await paperAlert(files.alert, 'alert', o),
    await paperAlert(files.alert_adversarial, 'alert_adversarial', o),
    await paperBeaver(files.beaver, o),
  ];
}

/**
 * The helpfulness suite of the original (its README's lm-eval task list), in that order: the built-in lm-eval tasks.
 * (`realtoxicityprompts_challenge`, a generation task judged for toxicity, is not one of them.)
 */
export const BFPO_PAPER_HELPFULNESS_TASKS = [
  'truthfulqa_gen', 'truthfulqa_mc2', 'crows_pairs_english', 'ethics_cm', 'ethics_justice', 'ethics_deontology',
  'ethics_utilitarianism', 'ethics_virtue', 'toxigen', 'winogrande', 'bigbench_hhh_alignment_multiple_choice',
  'bigbench_fact_checker_multiple_choice', 'bigbench_moral_permissibility_multiple_choice', 'bigbench_bbq_lite_json_multiple_choice',
  'bigbench_known_unknowns_multiple_choice', 'bigbench_simple_ethical_questions_multiple_choice', 'realtoxicityprompts_challenge',
  'hhh_alignment',
] as const;

/**
 * The helpfulness table of the original: every task of BFPO_PAPER_HELPFULNESS_TASKS from `dataDir` in the hub layout.
 * A missing data set fails before any model is loaded, naming the files tried.
 *
 * @example const tasks = await bfpoPaperHelpfulnessTasks('/data/hf');
 */
export async function bfpoPaperHelpfulnessTasks(dataDir: string, o: { limit?: number } = {}): Promise<Task[]> {
  const tasks: Task[] = [];
  for (const name of BFPO_PAPER_HELPFULNESS_TASKS) tasks.push(await loadLmEvalTask(name, dataDir, o));
  return tasks;
}
