import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkMixerFraction, describeCount, mixDatasets, Prng, testIsTrainWarning, type PreferenceExample } from 'bfpo/data';

const fx = 'test/fixtures/data';
const PKU = 'PKU-Alignment/PKU-SafeRLHF';
const UF = 'HuggingFaceH4/ultrafeedback_binarized';
const paths = { [PKU]: `${fx}/pku-saferlhf`, [UF]: `${fx}/ultrafeedback` };
const key = (e: PreferenceExample) => `${e.source.dataset}#${e.source.row}`;

test('train splits keep the first int(fraction x rows) rows across shards; test splits are whole', async () => {
  const m = await mixDatasets({ mixer: { [PKU]: 0.6 }, task: 'preference', paths });
  // 24 train rows over two shards: int(0.6 * 24) = 14 -> all 12 of shard 0 and 2 of shard 1
  assert.equal(m.train.length, 14);
  assert.deepEqual(m.train.map((e) => e.source.row).sort((a, b) => a - b), [...Array(14).keys()]);
  assert.equal(m.test.length, 6);
  assert.deepEqual(m.counts, [
    { dataset: PKU, split: 'train', kind: 'train', rows: 24, taken: 14, examples: 14 },
    { dataset: PKU, split: 'test', kind: 'test', rows: 6, taken: 6, examples: 6 },
  ]);
});

test('datasets are concatenated in mixer order, then shuffled with the seed (per-dataset split names mapped)', async () => {
  const opts = { mixer: { [PKU]: 0.5, [UF]: 0.35 }, task: 'preference' as const, paths, seed: 42 };
  const m = await mixDatasets(opts);
  // UltraFeedback's train/test map to train_prefs/test_prefs; int(0.35 * 10) = 3
  assert.deepEqual(m.counts.map((c) => [c.split, c.taken]), [['train', 12], ['test', 6], ['train_prefs', 3], ['test_prefs', 4]]);
  const unshuffled = await mixDatasets({ ...opts, shuffle: false });
  assert.deepEqual(unshuffled.train.map(key).slice(10, 15), [`${PKU}:train#10`, `${PKU}:train#11`, `${UF}:train_prefs#0`, `${UF}:train_prefs#1`, `${UF}:train_prefs#2`]);
  assert.deepEqual(m.train.map(key), new Prng(42).shuffle(unshuffled.train.map(key)));
  assert.deepEqual(m.test.map(key), new Prng(42).shuffle(unshuffled.test.map(key)));
  const again = await mixDatasets(opts);
  assert.deepEqual(again.train.map(key), m.train.map(key));
  const other = await mixDatasets({ ...opts, seed: 7 });
  assert.notDeepEqual(other.train.map(key), m.train.map(key));
});

test('explicit split names, dataDir lookup, fraction 0', async () => {
  const m = await mixDatasets({
    mixer: { 'ultrafeedback': 1 }, splits: ['train'], task: 'preference', dataDir: fx,
    adapters: { ultrafeedback: 'ultrafeedback-binarized' }, splitNames: { ultrafeedback: { train: 'train_prefs' } },
  });
  assert.equal(m.train.length, 10);
  assert.equal(m.test.length, 0);
  const zero = await mixDatasets({ mixer: { [PKU]: 0 }, splits: ['train'], task: 'preference', paths });
  assert.equal(zero.train.length, 0);
  // Fraction 0 takes no train rows; the test split still counts in full.
  const zeroWithTest = await mixDatasets({ mixer: { [PKU]: 0 }, splits: ['train', 'test'], task: 'preference', paths });
  const wholeTest = await mixDatasets({ mixer: { [PKU]: 1 }, splits: ['test'], task: 'preference', paths });
  assert.equal(zeroWithTest.train.length, 0);
  assert.equal(zeroWithTest.test.length, wholeTest.test.length);
  assert.ok(wholeTest.test.length > 0);
  const buffer = await mixDatasets({ mixer: { [UF]: 1 }, splits: ['train_prefs'], task: 'preference', seed: 3, paths });
  assert.equal(buffer.train.length, 10);
});

test('split names as the original maps them: PKU-SafeRLHF serves the preference and SFT split names from train/test', async () => {
  for (const splits of [['train_prefs', 'test_prefs'], ['train_sft', 'test_sft']]) {
    const m = await mixDatasets({ mixer: { [PKU]: 1 }, splits, task: 'preference', paths, hashFiles: false });
    assert.deepEqual(m.counts.map((c) => [c.split, c.rows]), [['train', 24], ['test', 6]]);
  }
  const sft = await mixDatasets({ mixer: { [PKU]: 0.5 }, splits: ['train_sft', 'test_sft'], task: 'sft', paths, hashFiles: false });
  assert.deepEqual([sft.train.length, sft.test.length], [12, 6]);
  const uf = await mixDatasets({ mixer: { [UF]: 1 }, splits: ['train_prefs', 'test_prefs'], task: 'preference', paths, hashFiles: false });
  assert.deepEqual(uf.counts.map((c) => c.split), ['train_prefs', 'test_prefs']); // its own names
});

test('mixer errors: bad fraction, empty mixer, split kind, unknown split', async () => {
  await assert.rejects(mixDatasets({ mixer: { [PKU]: 1.5 }, task: 'preference', paths }),
    /Expected a fraction in \[0, 1\] for dataset_mixer\["PKU-Alignment\/PKU-SafeRLHF"\] but received 1.5/);
  await assert.rejects(mixDatasets({ mixer: {}, task: 'preference', paths }), /Expected at least one dataset for dataset_mixer/);
  await assert.rejects(mixDatasets({ mixer: { [PKU]: 1 }, splits: ['validation'], task: 'preference', paths }),
    /Expected a split name containing "train" or "test" for dataset_splits but received "validation"/);
  await assert.rejects(mixDatasets({ mixer: { [PKU]: 1 }, splits: ['train_gen'], task: 'preference', paths }),
    /pku-saferlhf: unknown split "train_gen" \(this dataset has "test", "train"\)/);
  // The one fraction rule: [0, 1], bounds included.
  for (const ok of [0, 0.5, 1]) assert.equal(checkMixerFraction(ok, 'x'), ok);
  for (const bad of [-0.1, 1.01, Number.NaN, '0.5', null]) assert.throws(() => checkMixerFraction(bad, 'dataset_mixer["a"]'), /Expected a fraction in \[0, 1\] for dataset_mixer\["a"\]/);
});

test('a bad row in a mixed dataset stops the mix; skipInvalid reports it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-mix-'));
  const rows = ['{"prompt": "a", "chosen": "b", "rejected": "c"}', '{"prompt": "a", "chosen": "", "rejected": "c"}',
    '{"prompt": "a", "chosen": "b", "rejected": "c", "is_chosen_safe": 5}', '{"prompt": "a", "chosen": "b", "rejected": "c"}'];
  writeFileSync(join(dir, 'train.jsonl'), rows.join('\n'));
  const opts = { mixer: { [dir]: 1 }, splits: ['train'], task: 'preference' as const };
  await assert.rejects(mixDatasets(opts), /train\.jsonl, row 1, field "chosen": empty response/);
  const m = await mixDatasets({ ...opts, skipInvalid: true });
  assert.equal(m.train.length, 2);
  assert.equal(m.report.skipped, 2);
  assert.deepEqual([...m.report.byReason], [['chosen: empty response', 1], ['is_chosen_safe: expected one of 0, 1 but found 5', 1]]);
  assert.deepEqual([...m.report.byDataset], [[`${dir}:train`, { count: 2, rows: [1, 2] }]]); // per dataset split, first rows
  assert.deepEqual(m.counts[0], { dataset: dir, split: 'train', kind: 'train', rows: 4, taken: 4, examples: 2 });
  await assert.rejects(mixDatasets({ mixer: { [`${fx}/corrupt.parquet`]: 1 }, splits: ['train'], task: 'preference' }), /corrupt\.parquet: not a readable Parquet file/);
});

test('a single file serves its rows as train and test, with a warning, as the original', async () => {
  const file = `${fx}/red-team.json`; // 8 rows, no test split of its own
  const m = await mixDatasets({ mixer: { [file]: 0.5 }, splits: ['train', 'test'], task: 'preference', seed: 42 });
  assert.deepEqual(m.train.map((e) => e.source.row).sort(), [0, 1, 2, 3]); // the fraction applies to train only
  assert.deepEqual(m.test.map((e) => e.source.row).sort(), [0, 1, 2, 3, 4, 5, 6, 7]); // every row, never subsampled
  assert.deepEqual(m.warnings, [testIsTrainWarning(file)]);
  assert.match(m.warnings[0]!, /test rows are its training rows .*test_split_size/);
  assert.deepEqual(m.files.map((f) => [f.file, f.sha256]), [[file, createHash('sha256').update(readFileSync(file)).digest('hex')]]);
  const trainOnly = await mixDatasets({ mixer: { [file]: 1 }, splits: ['train'], task: 'preference' });
  assert.deepEqual(trainOnly.warnings, []);
});

test('test_split_size holds rows of a single file out as its test split; they never train', async () => {
  const file = `${fx}/red-team.json`; // 8 rows, no test split of its own
  const opts = { mixer: { [file]: 1 }, splits: ['train', 'test'], task: 'preference' as const, seed: 42 };
  const m = await mixDatasets({ ...opts, testSplitSize: 0.25 });
  const held = new Prng(42).shuffle([...Array(8).keys()]).slice(0, 2); // ceil(0.25 x 8) = 2 rows, picked with the seed
  assert.deepEqual(m.test.map((e) => e.source.row).sort(), [...held].sort());
  assert.deepEqual(m.train.map((e) => e.source.row).sort(), [...Array(8).keys()].filter((r) => !held.includes(r)));
  assert.deepEqual(m.counts.map(describeCount), [
    `data ${file} [train]: 6 examples (6 of 8 rows, 2 held out as test)`,
    `data ${file} [test (held out of train)]: 2 examples (2 of 8 rows)`,
  ]);
  // The train fraction applies to the rows left, in file order; a whole number holds out that many rows.
  const half = await mixDatasets({ ...opts, mixer: { [file]: 0.5 }, testSplitSize: 3, seed: 7, shuffle: false });
  const held7 = new Prng(7).shuffle([...Array(8).keys()]).slice(0, 3);
  assert.deepEqual(half.test.map((e) => e.source.row).sort(), [...held7].sort());
  assert.deepEqual(half.train.map((e) => e.source.row), [...Array(8).keys()].filter((r) => !held7.includes(r)).slice(0, 2));
  // A dataset with its own test split keeps it whole.
  const pku = await mixDatasets({ mixer: { [PKU]: 1 }, task: 'preference', paths, testSplitSize: 0.5 });
  assert.deepEqual([pku.train.length, pku.test.length], [24, 6]);
  await assert.rejects(mixDatasets({ ...opts, testSplitSize: 8 }), /red-team\.json: test_split_size 8 holds out 8 of the 8 rows of split "train", leaving none to train on/);
  for (const bad of [0, 1.5, -2]) {
    await assert.rejects(mixDatasets({ ...opts, testSplitSize: bad }), new RegExp(`Expected a fraction in \\(0, 1\\) or a whole number of rows for test_split_size but received ${bad}`));
  }
});
