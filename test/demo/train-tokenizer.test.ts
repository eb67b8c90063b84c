// The demo tokenizer: trained BPE files load in bfpo's tokenizer and in Hugging Face's Rust tokenizers, round-trip
// any text, and carry a chat template with BOS, EOS and the assistant header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { loadTokenizer } from 'bfpo';
import { byteToUnicode, saveBpeTokenizer, trainBpe } from '../../src/demo/train-tokenizer.js';
import { buildWorld, readBehaviours, trainingTexts } from '../../src/demo/world.js';

const world = buildWorld(readBehaviours(new URL('../../data/advbench.txt', import.meta.url).pathname), { seed: 0, scale: 0.2 });
const trained = trainBpe(trainingTexts(world), 600);

test('byte symbols are the GPT-2 table: 256 distinct printable characters, space is Ġ', () => {
  const t = byteToUnicode();
  assert.equal(new Set(t).size, 256);
  assert.equal(t[32], 'Ġ');
  assert.equal(t[10], 'Ċ');
  assert.equal(t[65], 'A');
});

test('training is deterministic and reaches the asked size with frequent words whole', () => {
  assert.equal(trained.vocab.size, 600);
  assert.deepEqual(trainBpe(trainingTexts(world), 600).merges, trained.merges);
  assert.ok(trained.vocab.has('Ġcapital'));
  assert.equal(trained.vocab.get('<s>'), 0);
  assert.throws(() => trainBpe(['a'], 100), /Expected an integer >= 262 \(special tokens \+ 256 bytes\) for vocabSize but received 100/);
});

test('the files load in bfpo and in HF Rust tokenizers with the same ids, and decode back to the text', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-tok-'));
  try {
    const ids = saveBpeTokenizer(trained, dir);
    const tok = loadTokenizer(dir);
    const rust = RustTokenizer.fromFile(join(dir, 'tokenizer.json'));
    assert.deepEqual([tok.bosTokenId, tok.eosTokenId, tok.padTokenId], [ids.bos, ids.eos, ids.pad]);
    const texts = [
      ...world.evalHarmful.slice(0, 20).map((h) => h.prompt), // held out: words the tokenizer never saw
      ...world.sft.slice(0, 20).map((r) => r.messages[1].content),
      'Héllo wörld 🙂 \n\n  tabs\tand  spaces, 12345 ünïcode 東京',
      '<|user|>\nWhat is 3 plus 4?</s>\n<|assistant|>\n',
    ];
    for (const text of texts) {
      const mine = tok.encode(text, { addSpecialTokens: false });
      const theirs = Array.from((await rust.encode(text, null, { addSpecialTokens: false })).getIds());
      assert.deepEqual(mine, theirs, text);
      assert.equal(tok.decode(mine), text);
    }
    assert.equal(tok.encode('<|assistant|>', { addSpecialTokens: false }).length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the chat template writes BOS, skips an empty system message and ends the prompt with the assistant header', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-tok-'));
  try {
    saveBpeTokenizer(trained, dir);
    const tok = loadTokenizer(dir);
    const prompt = tok.applyChatTemplate([{ role: 'system', content: '' }, { role: 'user', content: 'Hi' }], { addGenerationPrompt: true });
    assert.equal(prompt, '<s><|user|>\nHi</s>\n<|assistant|>\n');
    const full = tok.applyChatTemplate([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello.' }]);
    assert.ok(full.startsWith(prompt));
    assert.equal(full, '<s><|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
