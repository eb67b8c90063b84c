import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from 'bfpo';
import { loadSafetensors } from 'bfpo/io';
import { tmpDir } from './tmp-dir.js';
import { rng } from './rng.js';

test('500 seeded mutations and truncations of a valid file either load or throw FormatError', () => {
  const valid = readFileSync(new URL('../fixtures/io/mixed.safetensors', import.meta.url));
  const headerEnd = 8 + Number(valid.readBigUInt64LE(0));
  const rand = rng(1234);
  const dir = tmpDir('bfpo-fuzz-');
  const p = join(dir, 'f.safetensors');
  const outcomes = { loaded: 0, rejected: 0 };
  for (let i = 0; i < 500; i++) {
    let bytes = Buffer.from(valid);
    const kind = i % 4;
    if (kind === 0) {
      bytes = bytes.subarray(0, Math.floor(rand() * bytes.byteLength));
    } else {
      // Mostly hit the length field and the header, where parsing happens; sometimes the data.
      const hits = 1 + Math.floor(rand() * 4);
      for (let h = 0; h < hits; h++) {
        const at = kind === 3 ? Math.floor(rand() * bytes.byteLength) : Math.floor(rand() * headerEnd);
        bytes[at] = kind === 2 ? '0123456789[]{}",:-.e'.charCodeAt(Math.floor(rand() * 20)) : Math.floor(rand() * 256);
      }
    }
    writeFileSync(p, bytes);
    try {
      const w = loadSafetensors(p);
      for (const t of w.values()) t.dispose();
      outcomes.loaded++;
    } catch (err) {
      assert.ok(err instanceof FormatError, `mutation ${i} threw ${String(err)}`);
      assert.ok(err.message.startsWith(p), err.message);
      outcomes.rejected++;
    }
  }
  assert.ok(outcomes.rejected > 200, JSON.stringify(outcomes));
  assert.ok(outcomes.loaded >= 10, JSON.stringify(outcomes));
});
