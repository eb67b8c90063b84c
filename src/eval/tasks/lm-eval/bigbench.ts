// The BIG-bench multiple-choice tasks of the original's list as lm-evaluation-harness 0.4.1 defines them
// (lm_eval/tasks/bigbench/multiple_choice_template_a_yaml): dataset hails/bigbench, configuration
// `<task>_zero_shot`, split `default`; the context is the `inputs` field, each of `multiple_choice_targets` is scored
// after " ", the gold one is the index of `targets[0]` among them; metric acc.
import { TaskDataError } from '../../errors.js';
import { readRecords, sampleId, stringField } from '../../records.js';
import type { MultipleChoiceTask } from '../types.js';
import { registerLmEvalTasks } from './registry.js';

/** The BIG-bench subtasks the original evaluation ran. */
export const BIGBENCH_SUBTASKS = ['hhh_alignment', 'fact_checker', 'moral_permissibility', 'bbq_lite_json', 'known_unknowns', 'simple_ethical_questions'] as const;

async function load(file: string, name: string, o: { limit?: number }): Promise<MultipleChoiceTask> {
  const rows = await readRecords(file);
  const samples = (o.limit === undefined ? rows : rows.slice(0, o.limit)).map((r) => {
    const context = stringField(file, r, 'inputs');
    const choices = r.record.multiple_choice_targets;
    if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === 'string')) {
      throw new TaskDataError(file, r.row, 'multiple_choice_targets', `expected a list of at least 2 strings but found ${JSON.stringify(choices)}`);
    }
    const targets = r.record.targets;
    const gold = Array.isArray(targets) ? choices.indexOf(targets[0]) : -1;
    if (gold < 0) throw new TaskDataError(file, r.row, 'targets', `expected a list whose first entry is one of multiple_choice_targets but found ${JSON.stringify(targets)}`);
    return { id: sampleId(r, 'idx'), context, choices: choices as string[], gold };
  });
  return { kind: 'multiple-choice', name, samples, delimiter: ' ', metric: 'acc' };
}

registerLmEvalTasks(...BIGBENCH_SUBTASKS.map((sub) => {
  const name = `bigbench_${sub}_multiple_choice`;
  const config = `${sub}_zero_shot`;
  return {
    name,
    dataset: `hails/bigbench, ${config}, default`,
    files: [`hails/bigbench/${config}/default-00000-of-00001.parquet`, `hails/bigbench/${config}/default.jsonl`],
    load: (file: string, o: { limit?: number }) => load(file, name, o),
  };
}));
