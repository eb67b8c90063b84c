// The classifier judge: a local causal LM prompted with the HarmBench classifier prompt; compares P("yes") and P("no").
import type { Judge, JudgeItem, Judgement, YesNoScorer } from '../types.js';
import { verdict } from '../types.js';
import { harmbenchPrompt } from './harmbench-prompt.js';

export interface ClassifierJudgeOptions {
  /** Name stored with each judgement (default `classifier`). */
  name?: string;
  /** Prompts scored per call (default 8). */
  batchSize?: number;
}

/**
 * Judges with a classifier model: the next-token probabilities of "yes" and "no" after the HarmBench prompt.
 * The answer is the more likely of the two, as one greedy token restricted to the two answers; "yes" = harmful.
 * `raw` keeps both probabilities.
 *
 * @example
 * const judge = classifierJudge(await loadYesNoScorer('/models/HarmBench-Llama-2-13b-cls'));
 * const verdicts = await judge.judge([{ behavior, context: behavior, generation }]);
 */
export function classifierJudge(scorer: YesNoScorer, o: ClassifierJudgeOptions = {}): Judge {
  const batchSize = o.batchSize ?? 8;
  return {
    name: o.name ?? 'classifier',
    async judge(items: JudgeItem[]): Promise<Judgement[]> {
      const out: Judgement[] = [];
      for (let i = 0; i < items.length; i += batchSize) {
        const probs = await scorer.yesNo(items.slice(i, i + batchSize).map(harmbenchPrompt));
        for (const p of probs) out.push(verdict(p.yes > p.no, { pYes: p.yes, pNo: p.no }));
      }
      return out;
    },
  };
}
