// The original's SFT and BFPO launches, run unchanged with the shipped recipes on small folders in the original
// datasets' layouts (only model and sizes overridden), and `bfpo prepare --dump` checked token by token against
// sequences written out by hand from the original's rules (BFPO.md §4-5) on the tiny byte-level tokenizer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMain } from './run-main.js';
import { BatchPlan, mixDatasets, type SftExample } from '../../src/data/index.js';
import { BOS, EOS, byteIds, tinyChat } from '../data/byte-ids.js';

const root = new URL('../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'bfpo-original-'));
const model = join(root, 'recipes/tiny/model');
const Z = join(root, 'recipes/zephyr-7b-beta');
after(() => rmSync(work, { recursive: true, force: true }));
before(() => {
  // The folder names the shipped data configs use, in the hub's layout (data/<split>-0000x-of-0000y.parquet).
  for (const [from, to] of [['pku-saferlhf', 'PKU-SafeRLHF'], ['ultrafeedback', 'ultrafeedback_binarized'], ['ultrachat', 'ultrachat_200k']]) {
    cpSync(join(root, 'test/fixtures/data', from), join(work, 'data', to), { recursive: true });
  }
  copyFileSync(join(root, 'test/fixtures/data/red-team.json'), join(work, 'data/zephyr-7b-beta_beaver_redteaming.json'));
});

const run = (args: string[]) => runMain(args, work);

const readLog = (dir: string) => readFileSync(join(work, dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
const jsonLines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l));
const pkuRows = readFileSync(join(root, 'test/fixtures/data/pku-saferlhf-jsonl/train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

// The launches as the original's shell scripts wrote them (its paths made local).
const SFT = ['sft', join(Z, 'sft/selective.yaml'), '--gradient_accumulation_steps=2', '--output_dir=./models/sft-selective',
  '--learning_rate=5e-7', `--other_data_config=${join(Z, 'data/mix_sft.yaml')}`, '--use_selective=True'];
const BFPO = ['train', join(Z, 'bfpo/selective.yaml'), '--per_device_train_batch_size=2', '--gradient_accumulation_steps=4',
  '--output_dir=./models/bfpo-selective', `--other_data_config=${join(Z, 'data/balance_bfpo.yaml')}`, '--use_selective=True',
  '--remove_unused_columns=False'];

test('the original SFT launch: PKU-SafeRLHF train_sft read from train, packed blocks, loss on every token', async () => {
  const r = await run([...SFT, `--model_name_or_path=${model}`, '--max_seq_length=64', '--max_steps=2', '--per_device_train_batch_size=2']);
  assert.equal(r.code, undefined, r.err);
  assert.match(r.err, /data data\/PKU-SafeRLHF \[train\]: 4 examples \(4 of 24 rows\)/); // int(0.2 x 24), split train_sft → train
  assert.match(r.err, /data data\/ultrachat_200k \[train_sft\]/);
  assert.match(r.err, /packed train: \d+ conversations, \d+ tokens -> \d+ blocks of 64/);
  const log = readLog('models/sft-selective');
  assert.equal(log[0]!.step, 1, 'logging_first_step as the original');
  assert.ok(log.every((l) => !('loss' in l) || Number.isFinite(l.loss)));
});

test('the original BFPO launch: PKU-SafeRLHF with the UltraFeedback buffer, original metric keys, data hashes recorded', async () => {
  const r = await run([...BFPO, `--model_name_or_path=${model}`, '--max_steps=2']);
  assert.equal(r.code, undefined, r.err);
  assert.match(r.err, /data data\/PKU-SafeRLHF \[train\]: 4 examples \(4 of 24 rows\)/); // train_prefs → train
  assert.match(r.err, /data data\/PKU-SafeRLHF \[test\]: 6 examples/);
  assert.match(r.err, /data data\/ultrafeedback_binarized \[train_prefs\]/);
  const log = readLog('models/bfpo-selective');
  assert.equal(log[0]!.step, 1);
  const train = log.filter((l) => 'loss' in l);
  assert.ok(train.length >= 1 && train.every((l) => Number.isFinite(l['rewards/chosen']!)));
  assert.ok(log.every((l) => !Object.keys(l).some((k) => k.startsWith('buffer/') || k === 'main/loss')), 'the original logs no buffer/* keys');
  const cfg = JSON.parse(readFileSync(join(work, 'models/bfpo-selective/run_config.json'), 'utf8'));
  const files = cfg.data_files.map((f: { file: string }) => f.file);
  // Both train shards: the second one's row count fixes how many rows 0.2 takes.
  assert.deepEqual(files, ['data/PKU-SafeRLHF/data/train-00000-of-00002.parquet', 'data/PKU-SafeRLHF/data/train-00001-of-00002.parquet',
    'data/PKU-SafeRLHF/data/test-00000-of-00001.parquet',
    'data/ultrafeedback_binarized/data/train_prefs-00000-of-00001.parquet', 'data/ultrafeedback_binarized/data/test_prefs-00000-of-00001.parquet']);
  assert.ok(cfg.data_files.every((f: { sha256: string }) => /^[0-9a-f]{64}$/.test(f.sha256)));
  // bfpo's own layout, one key away.
  const own = await run([...BFPO.map((a) => a.replace('./models/bfpo-selective', './models/own')), `--model_name_or_path=${model}`, '--max_steps=1', '--original_metrics=false']);
  assert.equal(own.code, undefined, own.err);
  assert.ok(readLog('models/own').some((l) => Number.isFinite(l['buffer/rewards/chosen']!) && Number.isFinite(l['main/loss']!)));
});

/** A PKU-SafeRLHF row's pair, written out by hand from the original's rules in both tokenization modes. */
function handPair(row: Record<string, unknown>, mode: 'trl-0.7' | 'clean') {
  const better = row.better_response_id as number;
  const prompt = [{ role: 'system', content: '' }, { role: 'user', content: row.prompt as string }];
  const side = (answer: string) => {
    // trl-0.7: BOS + template(prompt) | template([assistant]) + EOS; clean: BOS + template(prompt, gen) | answer + EOS
    const p = mode === 'trl-0.7' ? [BOS, ...byteIds(tinyChat(prompt))] : [BOS, ...byteIds(tinyChat(prompt, true))];
    const a = mode === 'trl-0.7' ? [...byteIds(tinyChat([{ role: 'assistant', content: answer }])), EOS] : [...byteIds(answer), EOS];
    return { ids: [...p, ...a], labels: [...p.map(() => -100), ...a] };
  };
  const c = side(row[`response_${better}`] as string);
  const j = side(row[`response_${1 - better}`] as string);
  const safe = (i: number) => (row[`is_response_${i}_safe`] ? 1 : 0);
  return { chosen_input_ids: c.ids, chosen_labels: c.labels, rejected_input_ids: j.ids, rejected_labels: j.labels,
    is_chosen_safe: safe(better), is_rejected_safe: safe(1 - better) };
}

for (const mode of ['trl-0.7', 'clean'] as const) {
  test(`prepare --dump: preference pairs token by token (${mode})`, async () => {
    const out = join(work, `pairs-${mode}.jsonl`);
    const r = await run(['prepare', ...BFPO.slice(1), `--model_name_or_path=${model}`, `--tokenization=${mode}`, '--dump', '4', '--out', out]);
    assert.equal(r.code, undefined, r.err);
    assert.match(r.err, /prepared train: 4 pairs in 2 batches/);
    assert.match(r.err, /prepared buffer: \d+ pairs/);
    const rows = jsonLines(readFileSync(out, 'utf8'));
    assert.equal(rows.length, 4);
    assert.deepEqual(rows.map((x) => x.row).sort(), [0, 1, 2, 3]); // the first int(0.2 x 24) rows, in training order
    for (const x of rows) {
      assert.equal(x.dataset, 'data/PKU-SafeRLHF:train');
      assert.deepEqual({ ...x, dataset: undefined, row: undefined }, { dataset: undefined, row: undefined, ...handPair(pkuRows[x.row], mode) });
    }
  });
}

test('prepare --dump: the buffer split, and errors that name the option', async () => {
  const out = join(work, 'buffer.jsonl');
  const r = await run(['prepare', ...BFPO.slice(1), `--model_name_or_path=${model}`, '--dump=1', '--split=buffer', `--out=${out}`]);
  assert.equal(r.code, undefined, r.err);
  const [x] = jsonLines(readFileSync(out, 'utf8'));
  assert.equal(x.dataset, 'data/ultrafeedback_binarized:train_prefs');
  assert.deepEqual([x.is_chosen_safe, x.is_rejected_safe], [1, 1]);
  assert.equal(x.chosen_input_ids[0], BOS);
  assert.equal((await run(['prepare', ...BFPO.slice(1), `--model_name_or_path=${model}`, '--dump=x'])).err.includes('Expected a whole number for --dump but received "x"'), true);
  const noBuffer = await run(['prepare', join(Z, 'bfpo/selective.yaml'), `--model_name_or_path=${model}`, `--other_data_config=${join(Z, 'data/redteaming.yaml')}`, '--dump=1', '--split=buffer']);
  assert.equal(noBuffer.code, 1);
  assert.match(noBuffer.err, /The recipe has no buffer data \(use_buffer is false\)/);
});

test('prepare --dump: packed SFT blocks token by token, in training order', async () => {
  const size = 64;
  const out = join(work, 'blocks.jsonl');
  const r = await run(['prepare', ...SFT.slice(1), '--task', 'sft', `--model_name_or_path=${model}`, `--max_seq_length=${size}`, '--dump', '1000', '--out', out]);
  assert.equal(r.code, undefined, r.err);
  const rows = jsonLines(readFileSync(out, 'utf8'));
  // The mixture as the mixer orders it (its own tests check it against an independent generator), packed by hand.
  const mix = await mixDatasets({ mixer: { 'data/ultrachat_200k': 1, 'data/PKU-SafeRLHF': 0.2 }, splits: ['train_sft', 'test_sft'], task: 'sft', seed: 42,
    paths: { 'data/ultrachat_200k': join(work, 'data/ultrachat_200k'), 'data/PKU-SafeRLHF': join(work, 'data/PKU-SafeRLHF') }, hashFiles: false });
  const stream: { id: number; ex: SftExample }[] = mix.train.flatMap((ex) => [BOS, ...byteIds(tinyChat(ex.messages)), EOS].map((id) => ({ id, ex })));
  const blocks = Array.from({ length: Math.floor(stream.length / size) }, (_, b) => stream.slice(b * size, (b + 1) * size));
  const order = new BatchPlan(blocks.map(() => size), { batchSize: 4, seed: 42, groupByLength: false }).epoch(0).flat();
  assert.equal(rows.length, blocks.length);
  rows.forEach((x, k) => {
    const block = blocks[order[k]!]!;
    assert.deepEqual(x.input_ids, block.map((t) => t.id));
    assert.deepEqual(x.labels, x.input_ids); // loss on every token
    const held = [...new Set(block.map((t) => t.ex))];
    assert.deepEqual(x.row, held.map((e) => e.source.row));
    assert.deepEqual(x.dataset, held.map((e) => e.source.dataset.replace(/^.*\/(ultrachat_200k|PKU-SafeRLHF)/, 'data/$1')));
  });
  assert.ok(mix.train.some((e) => e.messages[0]!.role === 'system' && e.messages[0]!.content === ''));
});

test('skip_invalid: an empty response stops the run naming file, row and field, or is skipped and reported per dataset', async () => {
  mkdirSync(join(work, 'data/pku-bad'), { recursive: true });
  const rows = pkuRows.slice(0, 4).map((x, i) => JSON.stringify(i === 2 ? { ...x, response_1: '  ' } : x));
  writeFileSync(join(work, 'data/pku-bad/train.jsonl'), `${rows.join('\n')}\n`);
  const args = ['prepare', join(Z, 'bfpo/selective.yaml'), `--model_name_or_path=${model}`, '--dataset_mixer={data/pku-bad: 1.0}', '--dataset_splits=train'];
  const stop = await run(args);
  assert.equal(stop.code, 1);
  assert.match(stop.err, /data\/pku-bad\/train\.jsonl, row 2, field "response_1": empty text/);
  const skip = await run([...args, '--skip_invalid=true']);
  assert.equal(skip.code, undefined, skip.err);
  assert.match(skip.err, /skipped 1 invalid row\(s\):\n {2}data\/pku-bad:train: 1 row\(s\), first row 2\n {2}1 x response_1: empty text/);
  assert.match(skip.err, /prepared train: 3 pairs/);
});
