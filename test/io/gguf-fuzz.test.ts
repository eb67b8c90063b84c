import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from 'bfpo';
import { ggufToHf } from 'bfpo/models';
import { tmpDir } from './tmp-dir.js';
import { rng } from './rng.js';

test('200 seeded mutations of a whole GGUF model (config, tokenizer, Q8_0 tensors) either convert or throw FormatError', () => {
  const good = readFileSync(new URL('../fixtures/io/gqa-tiny-q8_0.gguf', import.meta.url));
  const headerEnd = 12_000; // metadata and tensor infos of this file end before this offset
  const rand = rng(2024);
  const p = join(tmpDir('bfpo-gguf-fuzz-'), 'm.gguf');
  const seen = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const b = Buffer.from(good);
    for (let h = 0; h < 1 + Math.floor(rand() * 3); h++) b[Math.floor(rand() * headerEnd)] = Math.floor(rand() * 256);
    writeFileSync(p, b);
    try {
      const { weights } = ggufToHf(p);
      for (const w of weights.values()) w.dispose();
      seen.set('converted', (seen.get('converted') ?? 0) + 1);
    } catch (err) {
      assert.ok(err instanceof FormatError, `mutation ${i}: ${(err as Error).stack}`);
      seen.set('rejected', (seen.get('rejected') ?? 0) + 1);
    }
  }
  assert.ok((seen.get('rejected') ?? 0) > 20, JSON.stringify([...seen]));
});
