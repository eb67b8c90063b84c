import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTokenizer } from 'bfpo';
import { packSft, sftDumpRow, type SftExample } from 'bfpo/data';
import { BOS, EOS, byteIds, tinyChat } from './byte-ids.js';

const tok = loadTokenizer('recipes/tiny/model');
const sys = { role: 'system', content: '' } as const;
const conv = (row: number, q: string, a: string): SftExample => ({
  messages: [sys, { role: 'user', content: q }, { role: 'assistant', content: a }], source: { dataset: 'd:train', row },
});

test('packing: BOS + chat text + EOS per conversation, concatenated, cut into full blocks; the tail is dropped', () => {
  const examples = [conv(4, 'Hi', 'Yo'), conv(9, 'Why?', 'Because.')];
  // The stream written out by hand from the original's layout.
  const stream = examples.flatMap((e) => [BOS, ...byteIds(tinyChat(e.messages)), EOS]);
  const size = 24;
  const { blocks, tokens, droppedTokens } = packSft(examples, tok, { blockSize: size });
  assert.equal(tokens, stream.length);
  assert.equal(blocks.length, Math.floor(stream.length / size));
  assert.equal(droppedTokens, stream.length % size);
  blocks.forEach((b, i) => {
    assert.deepEqual(Array.from(b.ids), stream.slice(i * size, (i + 1) * size));
    assert.ok(b.learn.every((x) => x === 1)); // the loss is on every token
  });
  // The first conversation is 2 + 44 tokens long, so block 1 holds its end and the second conversation's start.
  const first = 2 + byteIds(tinyChat(examples[0]!.messages)).length;
  assert.equal(first, 46);
  assert.deepEqual(blocks.map((b) => b.sources.map((s) => s.row)), [[4], [4, 9], [9], [9]].slice(0, blocks.length));
  const row = sftDumpRow(blocks[1]!);
  assert.deepEqual(row.row, [4, 9]);
  assert.deepEqual(row.dataset, ['d:train', 'd:train']);
  assert.deepEqual(row.labels, row.input_ids);
  assert.throws(() => packSft(examples, tok, { blockSize: 1 }), /Expected an integer ≥ 2 for blockSize but received 1/);
});
