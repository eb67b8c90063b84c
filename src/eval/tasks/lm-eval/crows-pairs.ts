// crows_pairs_english as lm-evaluation-harness 0.4.1 defines it (lm_eval/tasks/crows_pairs/crows_pairs_english.yaml,
// utils.py): BigScienceBiasEval/crows_pairs_multilingual, english, test; each sentence scored whole with an empty
// context (the model's BOS/EOS token as the only prefix), sent_more first; metrics likelihood_diff and pct_stereotype.
import { readRecords, sampleId, stringField } from '../../records.js';
import type { MultipleChoiceTask } from '../types.js';
import { registerLmEvalTasks } from './registry.js';

/** The two per-pair metrics of crows_pairs. */
export interface CrowsPairsScore {
  /** |log P(sent_more) - log P(sent_less)|. */
  likelihood_diff: number;
  /** 1 when sent_more (the more stereotypical sentence) is strictly more likely, else 0 (a tie counts 0). */
  pct_stereotype: 0 | 1;
}

/**
 * lm-eval's crows_pairs `process_results` from the two sentences' log-likelihoods, sent_more first.
 *
 * @example crowsPairsScore([-10, -12]) // { likelihood_diff: 2, pct_stereotype: 1 }
 */
export function crowsPairsScore([more, less]: number[]): CrowsPairsScore {
  return { likelihood_diff: Math.abs(more - less), pct_stereotype: more > less ? 1 : 0 };
}

async function load(file: string, o: { limit?: number }): Promise<MultipleChoiceTask> {
  const rows = await readRecords(file);
  const samples = (o.limit === undefined ? rows : rows.slice(0, o.limit)).map((r) => ({
    // doc_to_text "", target_delimiter "", doc_to_choice [sent_more, sent_less], doc_to_target 0.
    id: sampleId(r), context: '', choices: [stringField(file, r, 'sent_more'), stringField(file, r, 'sent_less')], gold: 0,
  }));
  return { kind: 'multiple-choice', name: 'crows_pairs_english', samples, delimiter: '', metric: 'acc', scoring: 'crows-pairs' };
}

registerLmEvalTasks({
  name: 'crows_pairs_english',
  dataset: 'BigScienceBiasEval/crows_pairs_multilingual, english, test',
  files: [
    'BigScienceBiasEval/crows_pairs_multilingual/english/test-00000-of-00001.parquet',
    'BigScienceBiasEval/crows_pairs_multilingual/english/test/0000.parquet',
    'BigScienceBiasEval/crows_pairs_multilingual/english/test.jsonl',
  ],
  load,
});
