// truthfulqa_gen as lm-evaluation-harness 0.4.1 defines it (lm_eval/tasks/truthfulqa/truthfulqa_gen.yaml, utils.py):
// the QA primer then "\n\nQ: " + question as a plain-text prompt, greedy continuation until "\n\n" (or end of sequence,
// at most 256 tokens), scored by BLEU and ROUGE against the true and the false reference answers.
import { TaskDataError } from '../../errors.js';
import { sentenceBleu } from '../../metrics/bleu.js';
import { rougeLsum, rougeN } from '../../metrics/rouge.js';
import { readRecords, sampleId, stringField, type NumberedRecord } from '../../records.js';
import type { ReferenceGenerationTask } from '../types.js';
import { registerLmEvalTasks } from './registry.js';
import { TRUTHFULQA_PRIMER } from './truthfulqa.js';

/** The metric names of truthfulqa_gen, in lm-eval's order (BLEURT left out: it needs a separate model). */
export const TRUTHFULQA_GEN_METRICS = [
  'bleu_max', 'bleu_acc', 'bleu_diff', 'rouge1_max', 'rouge1_acc', 'rouge1_diff',
  'rouge2_max', 'rouge2_acc', 'rouge2_diff', 'rougeL_max', 'rougeL_acc', 'rougeL_diff',
] as const;

export type TruthfulqaGenScores = Record<(typeof TRUTHFULQA_GEN_METRICS)[number], number>;

/** truthfulqa_gen's `doc_to_text`: the primer, a blank line, "Q: " and the question (no "A:"). */
export function truthfulqaGenPrompt(question: string): string {
  return `${TRUTHFULQA_PRIMER}\n\nQ: ${question}`;
}

/**
 * truthfulqa_gen's answer preparation (`preprocess_function`): each answer stripped, empty ones dropped, a "." added
 * where it does not end in one; "I have no comment." is added to the true answers when absent.
 *
 * @example truthfulqaGenAnswers(['Nothing happens', ' '], ['You die.']) // { correct: ['Nothing happens.', 'I have no comment.'], incorrect: ['You die.'] }
 */
export function truthfulqaGenAnswers(correct: string[], incorrect: string[]): { correct: string[]; incorrect: string[] } {
  const format = (xs: string[]) => xs.map((a) => a.trim()).filter((a) => a.length > 0).map((a) => (a.endsWith('.') ? a : `${a}.`));
  const c = format(correct);
  if (!c.includes('I have no comment.')) c.push('I have no comment.');
  return { correct: c, incorrect: format(incorrect) };
}

/** lm-eval's `_prepare_summary` before ROUGE: " . " becomes ".\n" so rougeLsum sees sentence lines. */
const prepare = (s: string) => s.replaceAll(' . ', '.\n');

/**
 * lm-eval's `process_results_gen`: per reference, BLEU (sacrebleu corpus_bleu of one segment, intl tokenizer, exp
 * smoothing, no effective order) and ROUGE-1/2/Lsum F-measure x 100; for each metric `_max` is the best score over the
 * true answers, `_diff` that minus the best over the false answers, `_acc` 1 when the true best is strictly higher.
 *
 * @example truthfulqaGenScores('Nothing happens.', ['Nothing happens.'], ['You die.']).bleu_acc // 1
 */
export function truthfulqaGenScores(completion: string, correct: string[], incorrect: string[]): TruthfulqaGenScores {
  if (correct.length === 0 || incorrect.length === 0) throw new RangeError('truthfulqa_gen needs at least one true and one false reference');
  const refs = [...correct, ...incorrect];
  const triple = (scores: number[]) => {
    const best = Math.max(...scores.slice(0, correct.length));
    const bestFalse = Math.max(...scores.slice(correct.length));
    return { max: best, diff: best - bestFalse, acc: best > bestFalse ? 1 : 0 };
  };
  const bleu = triple(refs.map((r) => sentenceBleu(completion, [r], { tokenize: 'intl' })));
  const pred = prepare(completion);
  const r1 = triple(refs.map((r) => rougeN(prepare(r), pred, 1).fmeasure * 100));
  const r2 = triple(refs.map((r) => rougeN(prepare(r), pred, 2).fmeasure * 100));
  const rl = triple(refs.map((r) => rougeLsum(prepare(r), pred).fmeasure * 100));
  return {
    bleu_max: bleu.max, bleu_acc: bleu.acc, bleu_diff: bleu.diff,
    rouge1_max: r1.max, rouge1_acc: r1.acc, rouge1_diff: r1.diff,
    rouge2_max: r2.max, rouge2_acc: r2.acc, rouge2_diff: r2.diff,
    rougeL_max: rl.max, rougeL_acc: rl.acc, rougeL_diff: rl.diff,
  };
}

function answers(file: string, r: NumberedRecord, field: string): string[] {
  const v = r.record[field];
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'string')) throw new TaskDataError(file, r.row, field, `expected a list of strings but found ${JSON.stringify(v)}`);
  return v as string[];
}

async function load(file: string, o: { limit?: number }): Promise<ReferenceGenerationTask> {
  const rows = await readRecords(file);
  const samples = (o.limit === undefined ? rows : rows.slice(0, o.limit)).map((r) => {
    const { correct, incorrect } = truthfulqaGenAnswers(answers(file, r, 'correct_answers'), answers(file, r, 'incorrect_answers'));
    if (incorrect.length === 0) throw new TaskDataError(file, r.row, 'incorrect_answers', 'expected at least one non-empty false answer');
    return { id: sampleId(r), prompt: truthfulqaGenPrompt(stringField(file, r, 'question').trim()), correct, incorrect };
  });
  // No generation_kwargs: lm-eval stops at the few-shot delimiter "\n\n" and greedy decodes up to max_gen_toks 256.
  return { kind: 'generation', name: 'truthfulqa_gen', samples, maxNewTokens: 256, stop: ['\n\n'], scoring: 'truthfulqa', metric: 'bleu_acc' };
}

registerLmEvalTasks({
  name: 'truthfulqa_gen',
  dataset: 'truthful_qa (generation, validation)',
  files: ['truthful_qa/generation/validation-00000-of-00001.parquet', 'truthfulqa/truthful_qa/generation/validation-00000-of-00001.parquet', 'truthful_qa/generation/validation.jsonl'],
  load,
});
