// Hostile data files give bounded-memory errors naming the file and the row: a JSONL line of hundreds of MB, a JSON
// array element too long, rows nested 10^5 deep, Parquet footers that lie about sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRows, DataError } from 'bfpo/data';
import { ROW_LIMITS } from '../../src/data/read-json.js';

const tmp = mkdtempSync(join(tmpdir(), 'bfpo-hostile-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

async function all(file: string) {
  const out = [];
  for await (const r of readRows(file)) out.push(r);
  return out;
}

test('a JSONL line of 300 MB is an error row naming file and line, read in bounded memory; the rows around it survive', async () => {
  const f = join(tmp, 'huge.jsonl');
  const fd = openSync(f, 'w');
  writeSync(fd, '{"a":1}\n{"a":"');
  const block = Buffer.alloc(1 << 20, 'x');
  for (let i = 0; i < 300; i++) writeSync(fd, block);
  writeSync(fd, '"}\n{"a":3}\n');
  closeSync(fd);
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
  const rows = await all(f);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[0]!.value, { a: 1 });
  assert.deepEqual(rows[2]!.value, { a: 3 });
  const err = rows[1]!.error;
  assert.ok(err instanceof DataError);
  assert.match(err.message, /huge\.jsonl, row 1: line 2 is 314572808 characters long, more than the 67108864/);
  assert.ok(peak - before < 150 * 2 ** 20, `resident memory grew by ${((peak - before) / 2 ** 20).toFixed(0)} MiB`);
});

test('a JSON array element longer than the row limit is skipped while streaming, with an error row', async () => {
  const saved = ROW_LIMITS.maxChars;
  ROW_LIMITS.maxChars = 1000;
  try {
    const f = join(tmp, 'long.json');
    writeFileSync(f, `[{"a":1}, {"a":"${'y'.repeat(5000)}"}, {"a":3}]`);
    const rows = await all(f);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[2]!.value, { a: 3 });
    assert.match(rows[1]!.error!.message, /long\.json, row 1: 5008 characters long, more than the 1000/);
  } finally {
    ROW_LIMITS.maxChars = saved;
  }
});

test('rows nested 10^5 deep are error rows, in JSONL and JSON arrays; 500 deep is fine', async () => {
  const deep = `${'['.repeat(1e5)}${']'.repeat(1e5)}`;
  const ok = `${'['.repeat(500)}${']'.repeat(500)}`;
  const jl = join(tmp, 'deep.jsonl');
  writeFileSync(jl, `{"a":1}\n{"x":${deep}}\n{"x":${ok}}\n`);
  const rows = await all(jl);
  assert.match(rows[1]!.error!.message, /deep\.jsonl, row 1: line 2 is nested more than 512 arrays\/objects deep/);
  assert.equal(rows[2]!.error, undefined);
  const ja = join(tmp, 'deep.json');
  writeFileSync(ja, `[{"a":1}, {"x":${deep}}]`);
  const arr = await all(ja);
  assert.match(arr[1]!.error!.message, /deep\.json, row 1: nested more than 512/);
  // Brackets inside strings do not count.
  const str = join(tmp, 'str.jsonl');
  writeFileSync(str, `{"x":"${'['.repeat(1e5)}"}\n`);
  assert.equal((await all(str))[0]!.error, undefined);
});

test('Parquet footers that lie (length past the file, sizes past the end) are DataErrors naming the file', async () => {
  const good = readFileSync('test/fixtures/data/pku-saferlhf/data/train-00000-of-00002.parquet');
  const lies: [string, Buffer][] = [];
  const longFooter = Buffer.from(good);
  longFooter.writeUInt32LE(0x7fffffff, good.length - 8);
  lies.push(['footer length 2^31', longFooter]);
  const shortFooter = Buffer.from(good);
  shortFooter.writeUInt32LE(3, good.length - 8);
  lies.push(['footer length 3', shortFooter]);
  const trunc = good.subarray(0, Math.floor(good.length / 2));
  lies.push(['truncated to half', Buffer.concat([trunc, good.subarray(good.length - 8)])]);
  for (const [what, bytes] of lies) {
    const f = join(tmp, 'lie.parquet');
    writeFileSync(f, bytes);
    await assert.rejects(all(f), (e: Error) => e instanceof DataError && e.message.includes('lie.parquet'), what);
  }
});
