// Data file hashes: sha256 of the bytes (checked against node:crypto over the whole buffer) and hashing progress.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashDataFiles } from '../../src/data/file-hash.js';

test('hashDataFiles hashes each distinct file once and reports the bytes hashed of the bytes in all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-hash-'));
  try {
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    const big = Buffer.alloc(200_000, 7);
    writeFileSync(a, big);
    writeFileSync(b, 'x\n');
    const seen: [number, number][] = [];
    const out = await hashDataFiles([a, b, a], (done, total) => seen.push([done, total]));
    assert.deepEqual(out.map((h) => h.file), [a, b]);
    assert.equal(out[0].sha256, createHash('sha256').update(big).digest('hex'));
    assert.equal(out[1].bytes, 2);
    assert.ok(seen.length >= 3, 'the large file arrives in several chunks');
    assert.ok(seen.every(([, t]) => t === 200_002));
    assert.ok(seen.every(([d], i) => i === 0 || d > seen[i - 1][0]), 'the count only grows');
    assert.deepEqual(seen.at(-1), [200_002, 200_002]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
