// Multiple-choice tasks in the lm-evaluation-harness style: each choice scored by summed log-likelihood; acc, acc_norm.
import { TaskDataError } from '../errors.js';
import { readRecords, sampleId, stringField } from '../records.js';
import type { ContinuationPair, ContinuationScore } from '../types.js';
import type { MultipleChoiceSample, MultipleChoiceTask } from './types.js';

export interface MultipleChoiceFileOptions {
  contextField?: string;
  choicesField?: string;
  goldField?: string;
  delimiter?: string;
  metric?: 'acc' | 'acc_norm';
  limit?: number;
}

/**
 * Loads a multiple-choice task from a file whose records hold a context, a list of choices and the gold index
 * (fields `context`, `choices`, `gold` unless renamed).
 *
 * @example
 * // {"context": "The capital of France is", "choices": ["Paris", "Rome"], "gold": 0}
 * const task = await loadMultipleChoice('capitals.jsonl', 'capitals');
 */
export async function loadMultipleChoice(file: string, name: string, o: MultipleChoiceFileOptions = {}): Promise<MultipleChoiceTask> {
  const [cf, chf, gf] = [o.contextField ?? 'context', o.choicesField ?? 'choices', o.goldField ?? 'gold'];
  const samples: MultipleChoiceSample[] = [];
  for (const r of await readRecords(file)) {
    if (o.limit !== undefined && samples.length >= o.limit) break;
    const context = stringField(file, r, cf);
    const choices = r.record[chf];
    if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === 'string' && c.length > 0)) {
      throw new TaskDataError(file, r.row, chf, `expected an array of at least 2 non-empty strings but found ${JSON.stringify(choices)}`);
    }
    const gold = r.record[gf];
    if (!(typeof gold === 'number' && Number.isInteger(gold) && gold >= 0 && gold < choices.length)) {
      throw new TaskDataError(file, r.row, gf, `expected an integer index in [0, ${choices.length}) but found ${JSON.stringify(gold)}`);
    }
    samples.push({ id: sampleId(r), context, choices: choices as string[], gold });
  }
  return { kind: 'multiple-choice', name, samples, delimiter: o.delimiter ?? ' ', metric: o.metric ?? 'acc_norm' };
}

/**
 * The log-likelihood requests of one sample: the context and, per choice, the delimiter plus the choice; with partial
 * scoring (`target` set) the context plus each choice, then the delimiter plus the target, as lm-eval builds them.
 */
export function choicePairs(sample: MultipleChoiceSample, delimiter: string): ContinuationPair[] {
  if (sample.target !== undefined) return sample.choices.map((c) => ({ context: sample.context + c, continuation: delimiter + sample.target }));
  return sample.choices.map((c) => ({ context: sample.context, continuation: delimiter + c }));
}

/** The per-sample outcome of a multiple-choice question. */
export interface MultipleChoiceOutcome {
  logprobs: number[];
  pred: number;
  predNorm: number;
  acc: 0 | 1;
  accNorm: 0 | 1;
}

function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/**
 * Scores one sample from its choices' log-likelihoods. acc: the choice with the highest summed log-likelihood is the
 * gold one. acc_norm: the same after dividing each log-likelihood by the length of the choice text in characters
 * (Unicode code points, without the delimiter), as lm-evaluation-harness does; for ASCII text that is its byte length.
 *
 * @example multipleChoiceOutcome(['a', 'bbbb'], 1, [{ logprob: -2, isGreedy: false, tokens: 1 }, { logprob: -4, isGreedy: false, tokens: 2 }])
 * // acc 0 (-2 > -4), acc_norm 1 (-4/4 > -2/1)
 */
export function multipleChoiceOutcome(choices: string[], gold: number, scores: ContinuationScore[]): MultipleChoiceOutcome {
  const logprobs = scores.map((s) => s.logprob);
  const pred = argmax(logprobs);
  const predNorm = argmax(logprobs.map((lp, i) => lp / [...choices[i]].length));
  return { logprobs, pred, predNorm, acc: pred === gold ? 1 : 0, accNorm: predNorm === gold ? 1 : 0 };
}

/**
 * lm-eval's truthfulqa_mc2 score (utils.process_results_mc2): the choices before the first label 0 are the true ones;
 * with p = exp(log-likelihood), the score is sum(p of true) / sum(p of all). Computed with the largest
 * log-likelihood subtracted first, which changes nothing except that very unlikely choices cannot underflow to 0/0.
 *
 * @example mc2Score([Math.log(0.2), Math.log(0.1), Math.log(0.1)], [1, 0, 0]) // 0.5
 */
export function mc2Score(logprobs: number[], labels: number[]): number {
  const split = labels.indexOf(0);
  if (split < 0) throw new RangeError('mc2 labels need at least one 0 (false answer)');
  const top = Math.max(...logprobs);
  const p = logprobs.map((lp) => Math.exp(lp - top));
  const all = p.reduce((a, b) => a + b, 0);
  return p.slice(0, split).reduce((a, b) => a + b, 0) / all;
}
