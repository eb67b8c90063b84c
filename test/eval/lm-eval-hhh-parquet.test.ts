// hhh_alignment from Parquet files in the hub layout of HuggingFaceH4/hhh_alignment (a struct of lists per row), the
// truthfulqa multiple-choice Parquet layout (two structs of lists), and a list<string> column: the records the tasks
// read, prompts, gold indexes, and the errors for a missing subset and a bad label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadLmEvalTask, readRecords, TaskDataError, type MultipleChoiceTask } from 'bfpo/eval';
import { tempDir } from './helpers.js';
import { writeParquet } from './parquet-fixture.js';

const TARGETS = { struct: { choices: { list: 'string' }, labels: { list: 'int32' } } } as const;
const HHH = { input: 'string', targets: TARGETS } as const;

function hhhHub(dir: string, labels: number[] = [0, 1]): string {
  const hub = join(dir, 'hub');
  for (const [k, subset] of ['harmless', 'helpful', 'honest', 'other'].entries()) {
    writeParquet(join(hub, 'HuggingFaceH4/hhh_alignment', subset, 'test-00000-of-00001.parquet'), HHH, [
      { input: `Human: question ${subset}\n\nAssistant:`, targets: { choices: ['Sure, here it is.', 'I would rather not.'], labels: k === 0 ? labels : [1, 0] } },
    ]);
  }
  return hub;
}

test('Parquet with a list<string> column and a struct of lists reads as plain arrays and objects', async () => {
  const file = writeParquet(join(tempDir(), 'nested.parquet'), { question: 'string', tags: { list: 'string' }, mc1_targets: TARGETS, n: 'int64' }, [
    { question: 'q0', tags: ['a', 'b c'], mc1_targets: { choices: ['yes', 'no'], labels: [1, 0] }, n: 7n },
    { question: 'q1', tags: [], mc1_targets: { choices: ['x', 'y', 'z'], labels: [1, 0, 0] }, n: 8n },
  ]);
  assert.deepEqual((await readRecords(file)).map((r) => r.record), [
    { question: 'q0', tags: ['a', 'b c'], mc1_targets: { choices: ['yes', 'no'], labels: [1, 0] }, n: 7 },
    { question: 'q1', tags: [], mc1_targets: { choices: ['x', 'y', 'z'], labels: [1, 0, 0] }, n: 8 },
  ]);
});

test('truthfulqa_mc2 reads the hub Parquet layout (two structs of lists)', async () => {
  const hub = join(tempDir(), 'hub');
  writeParquet(join(hub, 'truthful_qa/multiple_choice/validation-00000-of-00001.parquet'), { question: 'string', mc1_targets: TARGETS, mc2_targets: TARGETS }, [
    { question: 'Is the sky green?', mc1_targets: { choices: ['No', 'Yes'], labels: [1, 0] }, mc2_targets: { choices: ['No', 'Not usually', 'Yes'], labels: [1, 1, 0] } },
  ]);
  const task = (await loadLmEvalTask('truthfulqa_mc2', hub)) as MultipleChoiceTask;
  assert.deepEqual([task.samples[0].choices, task.samples[0].labels], [['No', 'Not usually', 'Yes'], [1, 1, 0]]);
});

test('hhh_alignment: the four subsets in order, input as context, choices after " ", gold = the label 1', async () => {
  const task = (await loadLmEvalTask('hhh_alignment', hhhHub(tempDir()))) as MultipleChoiceTask;
  assert.deepEqual(task.samples.map((s) => s.id), ['harmless-row0', 'helpful-row0', 'honest-row0', 'other-row0']);
  assert.deepEqual(task.samples.slice(0, 2).map((s) => [s.context, s.choices, s.gold]), [
    ['Human: question harmless\n\nAssistant:', ['Sure, here it is.', 'I would rather not.'], 1],
    ['Human: question helpful\n\nAssistant:', ['Sure, here it is.', 'I would rather not.'], 0],
  ]);
  assert.deepEqual([task.delimiter, task.metric], [' ', 'acc']);
});

test('hhh_alignment also reads the hub Parquet conversion layout <subset>/test/0000.parquet', async () => {
  const hub = join(tempDir(), 'hub');
  for (const subset of ['harmless', 'helpful', 'honest', 'other']) {
    writeParquet(join(hub, 'HuggingFaceH4/hhh_alignment', subset, 'test/0000.parquet'), HHH, [{ input: subset, targets: { choices: ['a', 'b', 'c'], labels: [0, 0, 1] } }]);
  }
  const task = (await loadLmEvalTask('hhh_alignment', hub)) as MultipleChoiceTask;
  assert.deepEqual(task.samples.map((s) => [s.context, s.gold]), [['harmless', 2], ['helpful', 2], ['honest', 2], ['other', 2]]);
});

test('hhh_alignment: a missing subset names its file; labels without exactly one 1 name file, row and field', async () => {
  const dir = tempDir();
  await assert.rejects(loadLmEvalTask('hhh_alignment', join(dir, 'none')), (e: unknown) =>
    e instanceof TaskDataError && /none\/HuggingFaceH4\/hhh_alignment\/harmless\/test-00000-of-00001\.parquet/.test(e.message));
  const hub = hhhHub(dir, [1, 1]);
  await assert.rejects(loadLmEvalTask('hhh_alignment', hub), /harmless\/test-00000-of-00001\.parquet, row 0, field "targets\.labels"/);
  const { rmSync } = await import('node:fs');
  rmSync(join(hub, 'HuggingFaceH4/hhh_alignment/honest'), { recursive: true });
  writeParquet(join(hub, 'HuggingFaceH4/hhh_alignment/harmless/test-00000-of-00001.parquet'), HHH, [{ input: 'x', targets: { choices: ['a', 'b'], labels: [0, 1] } }]);
  await assert.rejects(loadLmEvalTask('hhh_alignment', hub), /honest\/test-00000-of-00001\.parquet.*missing: hhh_alignment reads the honest subset/);
});
