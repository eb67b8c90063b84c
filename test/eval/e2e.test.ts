// End to end on a tiny random Llama-2 (hidden size 8, one layer, the real 32,000-token vocabulary; the GGUF test
// fixture converted to a Hugging Face folder): generation, multiple-choice scoring and the classifier judge on the
// real model, the report, a rerun that loads nothing, and a judge model without yes/no tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate, JudgeError, loadEvalModel, saveTokenizer, tensor } from 'bfpo';
import { saveSafetensors } from 'bfpo/io';
import { ggufToHf } from 'bfpo/models';
import { harmbenchPrompt, loadLocalModel, loadYesNoScorer, LocalScorer, LocalYesNoScorer } from 'bfpo/eval';
import { tempDir, writeJsonl } from './helpers.js';

const gguf = new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;

const converted = ggufToHf(gguf, { dtype: 'float32' });
const shared = tempDir();

/** Writes the fixture as an HF folder; `scale` multiplies the norm weights so two folders differ. */
function tinyFolder(dir: string, scale = 1): string {
  mkdirSync(dir, { recursive: true });
  const weights = new Map(converted.weights);
  if (scale !== 1) for (const [k, w] of weights) if (k.endsWith('norm.weight')) weights.set(k, w.mul(scale));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(converted.config));
  saveSafetensors(join(dir, 'model.safetensors'), weights);
  saveTokenizer(converted.tokenizer!, dir);
  for (const [k, w] of weights) if (w !== converted.weights.get(k)) w.dispose();
  return dir;
}

const base = tinyFolder(join(shared, 'base'));

function logSoftmax(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
  return row.map((x) => x - lse);
}

test('tiny model: generation, scoring, classifier judge and report, end to end', async () => {
  const dir = tempDir();
  const a = base;
  const b = tinyFolder(join(dir, 'tuned'), 3);
  const mc = writeJsonl(dir, 'capitals.jsonl', [
    { context: 'The capital of France is', choices: ['Paris', 'Rome', 'a city in Italy'], gold: 0 },
    { context: 'Two plus two is', choices: ['four', 'five'], gold: 0 },
  ]);
  const benign = writeJsonl(dir, 'benign.jsonl', [{ prompt: 'How do plants grow?' }, { prompt: 'What is rain?' }]);
  const em = writeJsonl(dir, 'arith.jsonl', [{ prompt: 'What is 2+2?', answer: '4' }]);
  let loads = 0;
  const loadModel = async (s: { name: string; path: string }) => (loads++, loadEvalModel(s));
  const config = {
    models: [a, b], tasks: ['advbench', `mc:${mc}`, `over-refusal:${benign}`, `em:${em}#(\\d+)`], judge: `classifier:${a}`,
    out: join(dir, 'out'), limit: 3, max_new_tokens: 6, batch_size: 2,
  };
  const { results, files } = await evaluate(config, { loadModel, loadYesNoScorer });
  assert.equal(loads, 2);
  assert.deepEqual(results.models.map((m) => m.name), ['base', 'tuned']);
  for (const m of results.models) {
    assert.equal(m.tasks.advbench.n, 3);
    assert.ok(m.harmlessness! >= 0 && m.harmlessness! <= 1);
    assert.equal(m.tasks.capitals.n, 2);
    assert.ok(m.helpfulness !== null && m.helpfulness >= 0 && m.helpfulness <= 1);
  }
  const gens = readFileSync(join(config.out, 'generations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(gens.length, 2 * (3 + 2 + 1));
  assert.ok(gens.every((g) => typeof g.generation === 'string'));
  const judgements = readFileSync(join(config.out, 'judgements.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const cls = judgements.filter((j) => j.judge === `classifier:${a}`);
  assert.equal(cls.length, 6);
  assert.ok(cls.every((j) => j.raw.pYes > 0 && j.raw.pNo > 0 && j.harmful === j.raw.pYes > j.raw.pNo));
  assert.match(readFileSync(files.svg!, 'utf8'), /(>|, )tuned</);

  // Seeded sampling: the same run into a fresh folder samples the same answers.
  const again = await evaluate({ ...config, models: [a], tasks: ['advbench'], out: join(dir, 'again'), judge: 'refusal' }, { loadModel: loadEvalModel });
  const gens2 = readFileSync(join(dir, 'again', 'generations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(gens2.map((g) => g.generation), gens.filter((g) => g.task === 'advbench' && g.model === 'base').map((g) => g.generation));
  assert.equal(again.results.models.length, 1);

  // Everything is on disk: a rerun loads no model (the judge model still loads).
  loads = 0;
  await evaluate(config, { loadModel, loadYesNoScorer });
  assert.equal(loads, 0);
});

test('log-likelihoods of a padded batch equal a direct computation on each unpadded sequence', async () => {
  const dir = tempDir();
  const { model, tokenizer } = loadLocalModel(base);
  const pairs = [
    { context: 'The capital of France is', continuation: ' Paris' },
    { context: 'Hi', continuation: ' there, friend of mine' },
  ];
  const scores = await new LocalScorer(model, tokenizer).score(pairs);
  for (const [i, p] of pairs.entries()) {
    const ctx = tokenizer.encode(p.context);
    const all = tokenizer.encode(p.context + p.continuation);
    const logits = model.forward(tensor([all.slice(0, -1)], { dtype: 'int64' })).logits.toArray() as number[][][]; // [1, s, v]
    let total = 0;
    for (let t = ctx.length; t < all.length; t++) total += logSoftmax(logits[0][t - 1])[all[t]];
    assert.ok(Math.abs(scores[i].logprob - total) < 1e-4, `${scores[i].logprob} vs ${total}`);
    assert.equal(scores[i].tokens, all.length - ctx.length);
  }
  // Yes/no probabilities of a left-padded batch equal those of each prompt alone.
  const judge = new LocalYesNoScorer(model, tokenizer, 'tiny');
  const prompts = [harmbenchPrompt({ behavior: 'b', context: 'b', generation: 'short' }), harmbenchPrompt({ behavior: 'a longer behaviour', context: '', generation: 'a much longer generation text here' })];
  const batch = await judge.yesNo(prompts);
  for (const [i, p] of prompts.entries()) {
    const [one] = await judge.yesNo([p]);
    assert.ok(Math.abs(one.yes - batch[i].yes) < 1e-5 && Math.abs(one.no - batch[i].no) < 1e-5);
  }
  model.dispose();
});

test('a judge model whose tokenizer has no single tokens for yes/no fails with a clear error', async () => {
  const folder = join(tempDir(), 'wordlevel-judge');
  mkdirSync(folder);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(base, f), join(folder, f));
  const wl = new URL('../fixtures/io/wordlevel/', import.meta.url).pathname;
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(wl, f), join(folder, f));
  await assert.rejects(loadYesNoScorer(folder), (e: unknown) => e instanceof JudgeError && e.message.startsWith(`Judge model ${folder} has no single token for "yes"`));
  const bare = join(tempDir(), 'no-tokenizer');
  mkdirSync(bare);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(base, f), join(bare, f));
  await assert.rejects(loadEvalModel({ name: 'bare', path: bare }), new RegExp(`${bare}: has no tokenizer \\(tokenizer\\.json\\); evaluation`));
});

test('bfpo eval from the command line on the tiny model', async () => {
  const { evalCommand } = await import('../../src/cli/eval.js');
  const out = join(tempDir(), 'cli-out');
  const written: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    await evalCommand(['--model', `tiny=${base}`, '--tasks', 'advbench', '--judge', 'refusal', '--out', out, '--limit', '2', '--max-new-tokens', '4']);
    await evalCommand(['--help']);
  } finally {
    process.stdout.write = write;
  }
  const text = written.join('');
  assert.match(text, /\| tiny \| \d\.\d{3} \| – \| \d\.\d{3} \(n=2\) \|/);
  assert.match(text, /Usage: bfpo eval --model PATH/);
  assert.ok(text.includes('endpoint:URL#MODEL'));
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(results.models[0].tasks.advbench.n, 2);
});
