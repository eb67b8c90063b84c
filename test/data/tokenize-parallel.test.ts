import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenizePairs, type PreferenceExample } from 'bfpo/data';
import { zephyrTokenizer } from './zephyr-tokenizer.js';

const examples: PreferenceExample[] = Array.from({ length: 24 }, (_, i) => ({
  prompt: [{ role: 'system', content: '' }, { role: 'user', content: `Question number ${i}: how are you?` }],
  chosen: [{ role: 'assistant', content: `Fine, thanks (${i}).` }],
  rejected: [{ role: 'assistant', content: `Go away ${'!'.repeat(i % 5)}` }],
  isChosenSafe: 1, isRejectedSafe: (i % 2) as 0 | 1, source: { dataset: 't', row: i },
}));
const lengths = { maxLength: 64, maxPromptLength: 32 };
const module = { url: new URL('./zephyr-tokenizer-module.ts', import.meta.url).href };

test('worker threads give the same pairs, in the same order, as this thread', async () => {
  const here = await tokenizePairs(examples, zephyrTokenizer(), lengths);
  const progress: number[] = [];
  const there = await tokenizePairs(examples, null, { ...lengths, workers: 2, chunkSize: 5, tokenizerModule: module, onProgress: (d) => progress.push(d) });
  assert.equal(progress.length, 5);
  assert.equal(progress[4], 24);
  assert.equal(there.length, 24);
  assert.deepEqual(there.map((p) => [Array.from(p.chosen.ids), p.chosen.promptLength, Array.from(p.rejected.ids), p.source.row, p.isRejectedSafe]),
    here.map((p) => [Array.from(p.chosen.ids), p.chosen.promptLength, Array.from(p.rejected.ids), p.source.row, p.isRejectedSafe]));
});

test('worker option errors and a failing worker', async () => {
  await assert.rejects(tokenizePairs(examples, null, { ...lengths, workers: -1 }), /Expected a non-negative integer or 'auto' for workers but received -1/);
  await assert.rejects(tokenizePairs(examples, null, { ...lengths, workers: 2 }), /Expected \{ url, args \} of a module exporting createTokenizer for tokenizerModule/);
  await assert.rejects(tokenizePairs(examples, null, lengths), /Expected a tokenizer when workers is 0 for tokenizer but received null/);
  const weird = { url: module.url, args: { template: "{% if add_generation_prompt %}GEN{% endif %}{% for m in messages %}{{ m['content'] }}{% endfor %}" } };
  await assert.rejects(tokenizePairs(examples, null, { ...lengths, workers: 1, tokenizerModule: weird }), /tokenization worker: The chat template renders the prompt/);
});
