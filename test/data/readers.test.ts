import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from 'bfpo';
import { readRows, countRows, parquetColumns } from 'bfpo/data';

const fx = 'test/fixtures/data';
const tmp = mkdtempSync(join(tmpdir(), 'bfpo-data-'));

async function all(file: string, end?: number) {
  const out = [];
  for await (const r of readRows(file, { end })) out.push(r);
  return out;
}

test('JSONL rows stream in order, blank lines ignored', async () => {
  const f = join(tmp, 'a.jsonl');
  writeFileSync(f, '{"a":1}\n\n{"a":2}\r\n{"a":3}');
  const rows = await all(f);
  assert.deepEqual(rows.map((r) => [r.row, r.value]), [[0, { a: 1 }], [1, { a: 2 }], [2, { a: 3 }]]);
  assert.equal(await countRows(f), 3);
  assert.equal((await all(f, 2)).length, 2);
});

test('a JSONL line that is not JSON names the file, row and line', async () => {
  const f = join(tmp, 'bad.jsonl');
  writeFileSync(f, '{"a":1}\n{"a":\n');
  const rows = await all(f);
  assert.ok(rows[1]!.error instanceof DataError);
  assert.match(rows[1]!.error!.message, /bad\.jsonl, row 1: line 2 is not valid JSON/);
});

test('a JSON array streams element by element, across read chunks', async () => {
  const f = join(tmp, 'big.json');
  const items = Array.from({ length: 3000 }, (_, i) => ({ i, text: `row ${i} "quoted" [bracket] {brace} ,comma ` + 'x'.repeat(500) }));
  writeFileSync(f, JSON.stringify(items, null, 1)); // about 1.6 MB: elements cross the 1 MiB chunk boundary
  const rows = await all(f);
  assert.equal(rows.length, 3000);
  assert.deepEqual(rows[2999]!.value, items[2999]);
  assert.deepEqual(rows.map((r) => (r.value as { i: number }).i), items.map((x) => x.i));
  assert.equal(await countRows(f), 3000);
});

test('JSON arrays: empty, not an array, truncated, bad element', async () => {
  const cases: [string, RegExp | number][] = [
    [' [ ] ', 0],
    ['"just text"', /must start with "\["/],
    ['[{"a": 1}, {"a": 2', /not closed/],
    ['[{"a": 1}] x', /unexpected text after/],
  ];
  for (const [text, want] of cases) {
    const f = join(tmp, 'case.json');
    writeFileSync(f, text);
    if (typeof want === 'number') assert.equal((await all(f)).length, want);
    else await assert.rejects(all(f), (e: Error) => e instanceof DataError && want.test(e.message) && e.message.includes('case.json'));
  }
  const f = join(tmp, 'elem.json');
  writeFileSync(f, '[{"a": 1}, {"a": tru}]');
  const rows = await all(f);
  assert.match(rows[1]!.error!.message, /elem\.json, row 1: not valid JSON/);
});

test('Parquet: row groups stream in order, nested message lists arrive as arrays of objects', async () => {
  const f = `${fx}/ultrafeedback/data/train_prefs-00000-of-00001.parquet`;
  assert.deepEqual(await parquetColumns(f), ['prompt', 'prompt_id', 'chosen', 'rejected', 'messages', 'score_chosen', 'score_rejected']);
  const rows = await all(f);
  assert.equal(rows.length, 10); // written in row groups of 4: 4 + 4 + 2
  assert.deepEqual(rows.map((r) => r.row), [...Array(10).keys()]);
  const v = rows[3]!.value as { chosen: unknown[]; prompt_id: string };
  assert.equal(v.prompt_id, 'id3');
  assert.deepEqual(v.chosen, [
    { content: 'Tell me about topic 3.', role: 'user' },
    { content: 'Topic 3 is broad.', role: 'assistant' },
    { content: 'Be more specific.', role: 'user' },
    { content: 'A detailed, correct answer about topic 3.', role: 'assistant' },
  ]);
  assert.equal(await countRows(f), 10);
  assert.deepEqual((await all(f, 5)).map((r) => r.row), [0, 1, 2, 3, 4]);
});

test('Parquet INT64 and BOOLEAN columns', async () => {
  const rows = await all(`${fx}/pku-saferlhf/data/train-00000-of-00002.parquet`, 1);
  const v = rows[0]!.value as Record<string, unknown>;
  assert.equal(v.better_response_id, 0n);
  assert.equal(v.is_response_0_safe, true);
});

test('a corrupt Parquet file, a missing file and an unknown extension name the file', async () => {
  await assert.rejects(all(`${fx}/corrupt.parquet`), /corrupt\.parquet: not a readable Parquet file/);
  await assert.rejects(countRows(`${fx}/corrupt.parquet`), /corrupt\.parquet: not a readable Parquet file/);
  await assert.rejects(all(`${fx}/nope.jsonl`), /nope\.jsonl: file not found/);
  await assert.rejects(all(`${fx}/prng.csv`), /prng\.csv: unknown data file extension "\.csv"/);
  await assert.rejects(all(fx + '/ultrachat.json'), (e: Error) => e instanceof DataError && /file not found/.test(e.message));
});

test('a Parquet file with an intact footer but garbled pages names the rows it cannot decode', async () => {
  await assert.rejects(all(`${fx}/corrupt-pages.parquet`), /corrupt-pages\.parquet, row 0: cannot decode the row group of rows 0-4 \(/);
});

test('a folder where a file is expected', async () => {
  await assert.rejects(all(`${fx}/pku-saferlhf/data.parquet`), /data\.parquet: file not found/);
  const dir = join(tmp, 'dir.jsonl');
  (await import('node:fs')).mkdirSync(dir);
  await assert.rejects(all(dir), /dir\.jsonl: not a file/);
});

test('a .json file holding JSON Lines (as Dataset.to_json writes) is read line by line', async () => {
  const f = join(tmp, 'lines.json');
  writeFileSync(f, '{"a":1}\n{"a":2}\n');
  assert.deepEqual((await all(f)).map((r) => r.value), [{ a: 1 }, { a: 2 }]);
  assert.equal(await countRows(f), 2);
});
