// winogrande as lm-evaluation-harness 0.4.1 builds it: partial scoring (each filled-in sentence start is a context,
// the rest of the sentence the continuation), requests for two documents written out, acc through the runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadLmEvalTask, refusalJudge, runEval, summarize, TaskDataError, type MultipleChoiceTask } from 'bfpo/eval';
import { choicePairs } from '../../src/eval/tasks/multiple-choice.js';
import { FakeScorer, tempDir, writeJsonl } from './helpers.js';

const DOCS = [
  { sentence: 'Sarah was a much better surgeon than Maria so _ always got the easier cases.', option1: 'Sarah', option2: 'Maria', answer: '2' },
  { sentence: "The trophy doesn't fit into the brown suitcase because the _ is too large.", option1: 'trophy', option2: 'suitcase', answer: '1' },
];

function hub(dir: string, docs: unknown[] = DOCS): string {
  const folder = join(dir, 'hub', 'winogrande', 'winogrande_xl');
  mkdirSync(folder, { recursive: true });
  writeJsonl(folder, 'validation.jsonl', docs);
  return join(dir, 'hub');
}

test('winogrande requests are the (context, continuation) pairs lm-eval builds for two documents', async () => {
  const task = (await loadLmEvalTask('winogrande', hub(tempDir()))) as MultipleChoiceTask;
  assert.deepEqual(choicePairs(task.samples[0], task.delimiter), [
    { context: 'Sarah was a much better surgeon than Maria so Sarah', continuation: ' always got the easier cases.' },
    { context: 'Sarah was a much better surgeon than Maria so Maria', continuation: ' always got the easier cases.' },
  ]);
  assert.deepEqual(choicePairs(task.samples[1], task.delimiter), [
    { context: "The trophy doesn't fit into the brown suitcase because the trophy", continuation: ' is too large.' },
    { context: "The trophy doesn't fit into the brown suitcase because the suitcase", continuation: ' is too large.' },
  ]);
  assert.deepEqual(task.samples.map((s) => s.gold), [1, 0]);
});

test('winogrande acc through the runner; bad rows named', async () => {
  const dir = tempDir();
  const tasks = [await loadLmEvalTask('winogrande', hub(dir))];
  // The continuation is likelier after "Maria" (right) and after "suitcase" (wrong).
  const scorer = new FakeScorer((p) => (/(Maria|suitcase)$/.test(p.context) ? -1 : -3));
  const stores = await runEval({ models: [{ name: 'm', path: '/m' }], load: async () => ({ scorer }), tasks, judge: refusalJudge(), outDir: join(dir, 'out') });
  assert.equal(summarize([{ name: 'm', path: '/m' }], tasks, stores, 'refusal').models[0].tasks.winogrande.metrics.acc, 0.5);
  const bad = tempDir();
  await assert.rejects(loadLmEvalTask('winogrande', hub(bad, [DOCS[0], { ...DOCS[1], answer: 3 }])), (e: unknown) =>
    e instanceof TaskDataError && /validation\.jsonl, row 1, field "answer"/.test(e.message));
  await assert.rejects(loadLmEvalTask('winogrande', join(bad, 'none')), /none\/winogrande\/winogrande_xl\/validation-00000-of-00001\.parquet/);
});
