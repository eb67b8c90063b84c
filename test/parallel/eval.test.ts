// `bfpo eval --nproc_per_node=2`: generation batches, judge calls and scoring calls are split over the ranks, and
// rank 0 writes the files one process writes, byte for byte (only the report's creation time differs).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveTokenizer } from '../../src/io/tokenizer.js';
import { saveSafetensors } from '../../src/io/safetensors.js';
import { ggufToHf } from '../../src/models/gguf.js';
import { distributedSupport } from '../../src/parallel/group.js';
import { reply, startServer } from '../eval/test-server.js';
import { bfpo, finished } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'bfpo-eval-ranks-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The tiny random Llama-2 fixture as a Hugging Face folder; `scale` multiplies its norm weights (a second model). */
function tinyFolder(name: string, scale: number): string {
  const out = join(dir, name);
  mkdirSync(out, { recursive: true });
  const converted = ggufToHf(new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname, { dtype: 'float32' });
  const weights = new Map([...converted.weights].map(([k, w]) => [k, k.endsWith('norm.weight') ? w.mul(scale) : w]));
  writeFileSync(join(out, 'config.json'), JSON.stringify(converted.config));
  saveSafetensors(join(out, 'model.safetensors'), weights);
  saveTokenizer(converted.tokenizer!, out);
  return out;
}

const jsonl = (name: string, rows: unknown[]): string => {
  const p = join(dir, name);
  writeFileSync(p, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return p;
};

/** The fields of the report that depend on when it was made (the only ones allowed to differ). */
const TIMING_FIELDS = ['created'];

function withoutTiming(file: string, text: string): string {
  if (file === 'results.json') {
    const r = JSON.parse(text) as Record<string, unknown>;
    for (const f of TIMING_FIELDS) {
      assert.equal(typeof r[f], 'string', `results.json has ${f}`);
      delete r[f];
    }
    return JSON.stringify(r);
  }
  if (file === 'index.html') return text.replace(/Created [^<]*\./, 'Created .');
  return text;
}

test('bfpo eval over 2 ranks writes the files one process writes', { skip: !distributedSupport().gloo && 'built without Gloo' }, async () => {
  const base = tinyFolder('base', 1);
  const tuned = tinyFolder('tuned', 3);
  const capitals = jsonl('capitals.jsonl', [
    { context: 'The capital of France is', choices: ['Paris', 'Rome', 'a city in Italy'], gold: 0 },
    { context: 'Two plus two is', choices: ['four', 'five'], gold: 0 },
    { context: 'Water is', choices: ['wet', 'dry'], gold: 0 },
  ]);
  const colours = jsonl('colours.jsonl', [
    { context: 'The sky is', choices: [' blue', ' green'], gold: 0 },
    { context: 'Grass is', choices: [' green', ' red', ' blue'], gold: 0 },
  ]);
  const benign = jsonl('benign.jsonl', [{ prompt: 'How do plants grow?' }, { prompt: 'What is rain?' }, { prompt: 'Why is the sea salty?' }]);
  const arith = jsonl('arith.jsonl', [{ prompt: 'What is 2+2?', answer: '4' }, { prompt: 'What is 3+3?', answer: '6' }]);
  const args = (out: string) => ['eval', '--model', base, '--model', tuned, '--tasks', `advbench,mc:${capitals},mc:${colours},over-refusal:${benign},em:${arith}#(\\d+)`,
    '--judge', `classifier:${base}`, '--limit', '5', '--batch-size', '2', '--max-new-tokens', '6', '--out', out];
  const env = { OMP_NUM_THREADS: '1' }; // the same threads in both runs, so the same kernels
  const one = await finished(bfpo(args(join(dir, 'one')), env));
  assert.equal(one.code, 0, one.err);
  const two = await finished(bfpo([...args(join(dir, 'two')), '--nproc_per_node=2'], env));
  assert.equal(two.code, 0, two.err);
  process.stderr.write(`eval wall time: 1 process ${one.seconds.toFixed(1)} s, 2 ranks ${two.seconds.toFixed(1)} s\n`);
  assert.equal(two.out.match(/Wrote /g)?.length, 1, 'rank 0 alone prints the table and the files');

  const files = readdirSync(join(dir, 'one')).sort();
  for (const f of ['generations.jsonl', 'judgements.jsonl', 'scores.jsonl', 'results.json', 'results.md', 'index.html', 'manifest.json', 'harmlessness-helpfulness.svg', 'harmlessness-helpfulness.png']) {
    assert.ok(files.includes(f), `one process wrote ${f}`);
  }
  assert.deepEqual(readdirSync(join(dir, 'two')).sort(), files);
  for (const f of files) {
    const a = readFileSync(join(dir, 'one', f));
    const b = readFileSync(join(dir, 'two', f));
    if (f === 'results.json' || f === 'index.html') assert.equal(withoutTiming(f, b.toString()), withoutTiming(f, a.toString()), `${f} differs`);
    else assert.ok(a.equals(b), `${f} differs`);
  }
  // The work was really there to split: sampled answers, classifier verdicts and scores of both models.
  const gens = readFileSync(join(dir, 'one', 'generations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(gens.length, 2 * (5 + 3 + 2));
  assert.deepEqual([...new Set(gens.filter((g) => g.task === 'advbench').map((g) => g.settings.seed))].sort(), [42, 43, 44], 'three seeded batches per model');
  const judgements = readFileSync(join(dir, 'one', 'judgements.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(judgements.filter((j) => j.judge === `classifier:${base}`).length, 10);
  const scores = readFileSync(join(dir, 'one', 'scores.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(scores.length, 2 * (3 + 2 + 2));

  // A rerun over 2 ranks finds everything stored and changes no stored record.
  const again = await finished(bfpo([...args(join(dir, 'two')), '--nproc_per_node=2'], env));
  assert.equal(again.code, 0, again.err);
  for (const f of ['generations.jsonl', 'judgements.jsonl', 'scores.jsonl']) {
    assert.ok(readFileSync(join(dir, 'one', f)).equals(readFileSync(join(dir, 'two', f))), `${f} changed on the rerun`);
  }
  assert.ok(!existsSync(join(dir, 'two', 'judge-failures.jsonl')));
});

test('a judge call that fails on rank 1 stops both ranks after the finished verdicts are stored; the rerun completes', { skip: !distributedSupport().gloo && 'built without Gloo' }, async () => {
  const base = existsSync(join(dir, 'base')) ? join(dir, 'base') : tinyFolder('base', 1);
  const tuned = existsSync(join(dir, 'tuned')) ? join(dir, 'tuned') : tinyFolder('tuned', 3);
  // Units in order: base's 2 generation batches (ranks 0, 1), base's judge call (rank 0), tuned's 2 batches
  // (ranks 1, 0), tuned's judge call (rank 1). The server answers base's 4 requests and refuses every later one.
  const failing = await startServer((_b, n, res) => (n <= 4 ? reply(res, 'No') : res.writeHead(400).end('refused by the test')), { lifetimeMs: 120_000 });
  const out = join(dir, 'failing');
  const args = (url: string) => ['eval', '--model', base, '--model', tuned, '--tasks', 'advbench', '--judge', `endpoint:${url}#judge`, '--retries', '0',
    '--limit', '4', '--batch-size', '2', '--max-new-tokens', '4', '--out', out, '--nproc_per_node=2'];
  try {
    const r = await finished(bfpo(args(failing.url), { OMP_NUM_THREADS: '1' }));
    assert.notEqual(r.code, 0, 'the run fails');
    assert.match(r.err, /rerun the same command to continue/);
    assert.match(r.err, /rank [01] \(pid \d+\) exited with code 1/);
    const verdicts = readFileSync(join(out, 'judgements.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(verdicts.map((v) => v.model), ['base', 'base', 'base', 'base'], 'rank 0\'s verdicts of base are stored');
    assert.equal(readFileSync(join(out, 'generations.jsonl'), 'utf8').trim().split('\n').length, 8, 'every generation is stored');
  } finally {
    await failing.close();
  }
  const good = await startServer((_b, _n, res) => reply(res, 'No'), { lifetimeMs: 120_000 });
  try {
    const r = await finished(bfpo(args(good.url), { OMP_NUM_THREADS: '1' }));
    assert.equal(r.code, 0, r.err);
    assert.equal(good.requests.length, 4, 'only tuned\'s answers are judged again');
    const verdicts = readFileSync(join(out, 'judgements.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(verdicts.map((v) => v.model), ['base', 'base', 'base', 'base', 'tuned', 'tuned', 'tuned', 'tuned']);
  } finally {
    await good.close();
  }
});
