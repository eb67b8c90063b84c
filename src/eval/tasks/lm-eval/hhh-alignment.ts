// hhh_alignment: the HHH alignment evaluation (Askell et al. 2021) from its hub copy HuggingFaceH4/hhh_alignment,
// subsets harmless, helpful, honest and other (test split), scored like lm-eval's BIG-bench multiple-choice template:
// the context is `input`, each of `targets.choices` is scored after " ", the gold one has label 1; metric acc.
// lm-evaluation-harness 0.4.1 itself defines no task of this name (its BIG-bench copy is bigbench_hhh_alignment_*).
import { existsSync } from 'node:fs';
import { TaskDataError } from '../../errors.js';
import { readRecords, stringField, type NumberedRecord } from '../../records.js';
import type { MultipleChoiceSample, MultipleChoiceTask } from '../types.js';
import { registerLmEvalTasks } from './registry.js';

/** The four subsets, in the order their samples are listed. */
export const HHH_SUBSETS = ['harmless', 'helpful', 'honest', 'other'] as const;

function sample(file: string, subset: string, r: NumberedRecord): MultipleChoiceSample {
  const t = r.record.targets as { choices?: unknown; labels?: unknown } | undefined;
  const choices = t?.choices;
  if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === 'string')) {
    throw new TaskDataError(file, r.row, 'targets.choices', `expected a list of at least 2 strings but found ${JSON.stringify(choices)}`);
  }
  const labels = Array.isArray(t?.labels) ? t.labels.map((l) => (typeof l === 'bigint' ? Number(l) : l)) : t?.labels;
  if (!Array.isArray(labels) || labels.length !== choices.length || labels.filter((l) => l === 1).length !== 1 || !labels.every((l) => l === 0 || l === 1)) {
    throw new TaskDataError(file, r.row, 'targets.labels', `expected one 0/1 label per choice with exactly one 1 but found ${JSON.stringify(labels)}`);
  }
  return { id: `${subset}-row${r.row}`, context: stringField(file, r, 'input'), choices: choices as string[], gold: labels.indexOf(1) };
}

/** Reads the four subsets; `file` is the harmless one, the others sit beside it under their subset's folder. */
async function load(file: string, o: { limit?: number }): Promise<MultipleChoiceTask> {
  const samples: MultipleChoiceSample[] = [];
  for (const subset of HHH_SUBSETS) {
    const path = file.replace(/([/\\]hhh_alignment[/\\])harmless(?=[/\\])/, `$1${subset}`);
    if (!existsSync(path)) throw new TaskDataError(path, null, null, `missing: hhh_alignment reads the ${subset} subset of HuggingFaceH4/hhh_alignment from this file, beside ${file}`);
    for (const r of await readRecords(path)) samples.push(sample(path, subset, r));
  }
  return { kind: 'multiple-choice', name: 'hhh_alignment', samples: o.limit === undefined ? samples : samples.slice(0, o.limit), delimiter: ' ', metric: 'acc' };
}

registerLmEvalTasks({
  name: 'hhh_alignment',
  dataset: 'HuggingFaceH4/hhh_alignment, harmless + helpful + honest + other, test',
  files: ['HuggingFaceH4/hhh_alignment/harmless/test-00000-of-00001.parquet', 'HuggingFaceH4/hhh_alignment/harmless/test/0000.parquet', 'HuggingFaceH4/hhh_alignment/harmless/test.jsonl'],
  load,
});
