// winogrande as lm-evaluation-harness 0.4.1 defines it (lm_eval/tasks/winogrande/default.yaml and
// preprocess_winogrande.py): partial scoring, zero-shot, validation split of winogrande_xl, metric acc.
import { TaskDataError } from '../../errors.js';
import { readRecords, sampleId, stringField } from '../../records.js';
import type { MultipleChoiceSample, MultipleChoiceTask } from '../types.js';
import { registerLmEvalTasks } from './registry.js';

/**
 * One winogrande document as lm-eval scores it: the choices are the sentence up to the blank with each option
 * filled in (`doc_to_choice`), the target is the rest of the sentence after the blank, stripped (`doc_to_target`),
 * scored after each choice with a " " between; the gold index is answer "1" -> 0, "2" -> 1 (`doc_to_text`).
 *
 * @example winograndeSample('r0', 'The cup is in the _ box.', 'red', 'blue', '2')
 * // { choices: ['The cup is in the red', 'The cup is in the blue'], target: 'box.', gold: 1, context: '' }
 */
export function winograndeSample(id: string, sentence: string, option1: string, option2: string, answer: string): MultipleChoiceSample {
  const idx = sentence.indexOf('_');
  return { id, context: '', choices: [sentence.slice(0, idx) + option1, sentence.slice(0, idx) + option2], target: sentence.slice(idx + 1).trim(), gold: answer === '1' ? 0 : 1 };
}

async function load(file: string, o: { limit?: number }): Promise<MultipleChoiceTask> {
  const rows = await readRecords(file);
  const samples = (o.limit === undefined ? rows : rows.slice(0, o.limit)).map((r) => {
    const sentence = stringField(file, r, 'sentence');
    if (!sentence.includes('_')) throw new TaskDataError(file, r.row, 'sentence', 'expected a blank "_" to fill in');
    const answer = r.record.answer;
    if (answer !== '1' && answer !== '2') throw new TaskDataError(file, r.row, 'answer', `expected "1" or "2" but found ${JSON.stringify(answer)}`);
    return winograndeSample(sampleId(r), sentence, stringField(file, r, 'option1'), stringField(file, r, 'option2'), answer);
  });
  return { kind: 'multiple-choice', name: 'winogrande', samples, delimiter: ' ', metric: 'acc' };
}

registerLmEvalTasks({
  name: 'winogrande',
  dataset: 'winogrande (allenai/winogrande), winogrande_xl, validation',
  files: ['winogrande/winogrande_xl/validation-00000-of-00001.parquet', 'allenai/winogrande/winogrande_xl/validation-00000-of-00001.parquet', 'winogrande/winogrande_xl/validation.jsonl'],
  load,
});
