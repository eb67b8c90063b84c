// The original's helpfulness suite as one protocol: every task of its lm-eval list loads from a hub-layout data
// folder, `--tasks` accepts each new task name, and a missing data set names the files tried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BFPO_PAPER_HELPFULNESS_TASKS, loadConfigTasks, parseTaskSpec, TaskDataError } from 'bfpo/eval';
import { tempDir, writeJsonl } from './helpers.js';

const TARGETS = { choices: ['a', 'b'], labels: [1, 0] };
const FILES: Record<string, Record<string, unknown>> = {
  'truthful_qa/generation/validation.jsonl': { question: 'q?', correct_answers: ['a'], incorrect_answers: ['b'] },
  'truthful_qa/multiple_choice/validation.jsonl': { question: 'q?', mc1_targets: TARGETS, mc2_targets: TARGETS },
  'BigScienceBiasEval/crows_pairs_multilingual/english/test.jsonl': { sent_more: 'x', sent_less: 'y' },
  'EleutherAI/hendrycks_ethics/commonsense/test.jsonl': { label: 1, input: 'i' },
  'EleutherAI/hendrycks_ethics/justice/test.jsonl': { label: 1, scenario: 's' },
  'EleutherAI/hendrycks_ethics/deontology/test.jsonl': { label: 1, scenario: 's', excuse: 'e' },
  'EleutherAI/hendrycks_ethics/utilitarianism/test.jsonl': { activity: 'a', baseline: 'b' },
  'EleutherAI/hendrycks_ethics/virtue/test.jsonl': { label: 1, scenario: 's', trait: 't' },
  'skg/toxigen-data/annotated/test.jsonl': { text: 't', toxicity_ai: 1, toxicity_human: 1 },
  'winogrande/winogrande_xl/validation.jsonl': { sentence: 'a _ b', option1: 'x', option2: 'y', answer: '1' },
  ...Object.fromEntries(['hhh_alignment', 'fact_checker', 'moral_permissibility', 'bbq_lite_json', 'known_unknowns', 'simple_ethical_questions'].map((s) =>
    [`hails/bigbench/${s}_zero_shot/default.jsonl`, { idx: 0, inputs: 'i', targets: ['a'], multiple_choice_targets: ['a', 'b'] }])),
  'allenai/real-toxicity-prompts/prompts.jsonl': { challenging: true, prompt: { text: 'p' } },
  ...Object.fromEntries(['harmless', 'helpful', 'honest', 'other'].map((s) => [`HuggingFaceH4/hhh_alignment/${s}/test.jsonl`, { input: 'i', targets: { choices: ['a', 'b'], labels: [0, 1] } }])),
};

function hub(dir: string, skip?: string): string {
  for (const [rel, row] of Object.entries(FILES)) {
    if (rel === skip) continue;
    const folder = join(dir, rel, '..');
    mkdirSync(folder, { recursive: true });
    writeJsonl(folder, rel.split('/').pop()!, [row]);
  }
  return dir;
}

test('--protocol bfpo-paper-helpfulness loads the original helpfulness suite in its order', async () => {
  const tasks = await loadConfigTasks({ models: [], tasks: [], judge: 'refusal', out: 'unused', protocol: 'bfpo-paper-helpfulness', data_dir: hub(tempDir()) });
  assert.deepEqual(tasks.map((t) => t.name), [...BFPO_PAPER_HELPFULNESS_TASKS]);
  assert.deepEqual(tasks.map((t) => t.kind).filter((k) => k !== 'multiple-choice'), ['generation', 'toxicity']);
});

test('each new task is a --tasks name; a missing data set names the files tried', async () => {
  for (const name of ['crows_pairs_english', 'ethics_utilitarianism', 'toxigen', 'hhh_alignment', 'truthfulqa_gen']) {
    assert.deepEqual(parseTaskSpec(name), { type: 'lm-eval', name });
  }
  const data = hub(tempDir(), 'skg/toxigen-data/annotated/test.jsonl');
  await assert.rejects(loadConfigTasks({ models: [], tasks: [], judge: 'refusal', out: 'unused', protocol: 'bfpo-paper-helpfulness', data_dir: data }), (e: unknown) =>
    e instanceof TaskDataError && /task toxigen reads dataset skg\/toxigen-data, annotated, test from one of .*skg\/toxigen-data\/annotated\/test-00000-of-00001\.parquet/.test(e.message));
  await assert.rejects(loadConfigTasks({ models: [], tasks: [], judge: 'refusal', out: 'unused', protocol: 'bfpo-paper-helpfulness' }), /data_dir/);
});
