// LocalScorer's shared-context batching and cache on the tiny model (recipes/tiny/model, made by scripts/make-tiny.ts):
// log-likelihoods equal the unbatched path and a direct computation within 1e-5; two forwards per call however
// many questions; repeated pairs cost nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from 'bfpo';
import { loadLocalModel, LocalScorer } from 'bfpo/eval';

const tiny = new URL('../../recipes/tiny/model', import.meta.url).pathname;
const { model, tokenizer } = loadLocalModel(tiny);

function logSoftmax(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
  return row.map((x) => x - lse);
}

/** The summed log-probability of the continuation's tokens from one unpadded forward, log-softmax written out. */
function direct(context: string, continuation: string): number {
  const trimmed = context.replace(/\s+$/, '');
  const ctx = tokenizer.encode(trimmed);
  const all = tokenizer.encode(trimmed + context.slice(trimmed.length) + continuation);
  const logits = model.forward(tensor([all.slice(0, -1)], { dtype: 'int64' })).logits.toArray() as number[][][];
  let total = 0;
  for (let t = ctx.length; t < all.length; t++) total += logSoftmax(logits[0][t - 1])[all[t]];
  return total;
}

const questions = [
  { context: 'Question: What colour is the sky?\nAnswer:', choices: [' blue', ' green', ' a deep shade of red', ' x'] },
  { context: 'The capital of France is ', choices: ['Paris', 'Rome', 'Berlin, of course'] },
  { context: 'Q', choices: [' a', ' bb', ' ccc'] },
];
const mc = questions.flatMap((q) => q.choices.map((c) => ({ context: q.context, continuation: c })));
// Partial scoring (winogrande): different contexts, one continuation.
const partial = [
  { context: 'The trophy did not fit in the suitcase because the trophy', continuation: ' was too big.' },
  { context: 'The trophy did not fit in the suitcase because the suitcase', continuation: ' was too big.' },
];

test('shared-context scores equal the unbatched path and a direct computation within 1e-5', async () => {
  const pairs = [...mc, ...partial, mc[1]];
  const shared = await new LocalScorer(model, tokenizer, 8).score(pairs);
  const single = new LocalScorer(model, tokenizer, 1, { shareContexts: false, cache: false });
  for (const [i, p] of pairs.entries()) {
    const [ref] = await single.score([p]);
    assert.ok(Math.abs(shared[i].logprob - ref.logprob) < 1e-5, `${JSON.stringify(p)}: ${shared[i].logprob} vs ${ref.logprob}`);
    assert.equal(shared[i].tokens, ref.tokens);
    assert.equal(shared[i].isGreedy, ref.isGreedy);
    const d = direct(p.context, p.continuation);
    assert.ok(Math.abs(shared[i].logprob - d) < 1e-5, `${JSON.stringify(p)}: ${shared[i].logprob} vs direct ${d}`);
  }
  // Batch sizes that split the questions differently give the same numbers.
  for (const size of [1, 2]) {
    const other = await new LocalScorer(model, tokenizer, size).score(pairs);
    for (const [i, s] of other.entries()) assert.ok(Math.abs(s.logprob - shared[i].logprob) < 1e-5);
  }
});

test('one context forward and one continuation forward per call; each context token run once; repeats cached', async () => {
  const scorer = new LocalScorer(model, tokenizer, 8);
  await scorer.score(mc);
  assert.equal(scorer.stats.forwards, 2, '3 questions, 10 choices: two forwards');
  const plain = new LocalScorer(model, tokenizer, 8, { shareContexts: false });
  await plain.score(mc);
  assert.equal(plain.stats.forwards, 2, '10 pairs in batches of 8');
  // Shared: 3 prefixes (context but its last token) padded to the longest, then 10 rows (last context token +
  // continuation but its last token) padded to the longest; plain: 10 rows of context + continuation but the last.
  const ctx = questions.map((q) => tokenizer.encode(q.context.replace(/\s+$/, '')));
  const split = mc.map((p) => {
    const trimmed = p.context.replace(/\s+$/, '');
    const all = tokenizer.encode(trimmed + p.context.slice(trimmed.length) + p.continuation);
    return all.length - tokenizer.encode(trimmed).length;
  });
  const pw = Math.max(...ctx.map((c) => c.length - 1));
  const rw = Math.max(...split);
  assert.equal(scorer.stats.positions, 3 * pw + mc.length * rw);
  const plainWidth = (i: number, j: number) => Math.max(...mc.slice(i, j).map((p, k) => ctx[questions.findIndex((q) => q.context === p.context)].length + split[i + k] - 1));
  assert.equal(plain.stats.positions, 8 * plainWidth(0, 8) + 2 * plainWidth(8, 10));
  assert.ok(scorer.stats.positions < plain.stats.positions, `${scorer.stats.positions} vs ${plain.stats.positions}`);
  const before = scorer.stats.forwards;
  const again = await scorer.score([...mc].reverse());
  assert.equal(scorer.stats.forwards, before, 'every pair comes from the cache');
  assert.equal(scorer.stats.cacheHits, mc.length);
  assert.equal(again[0].logprob, (await scorer.score([mc[mc.length - 1]]))[0].logprob);
  // Many questions: two forwards per batchSize questions.
  const many = Array.from({ length: 20 }, (_, i) => ({ context: `Item ${i}: pick one.`, choices: [' yes', ' no', ' maybe'] }));
  const big = new LocalScorer(model, tokenizer, 8);
  await big.score(many.flatMap((q) => q.choices.map((c) => ({ context: q.context, continuation: c }))));
  assert.equal(big.stats.forwards, 6, '20 questions in calls of 8, 8, 4 questions');
});

test('an empty continuation scores 0 without a forward; an empty context is the BOS token before the continuation', async () => {
  const scorer = new LocalScorer(model, tokenizer, 8);
  const [e] = await scorer.score([{ context: 'Anything', continuation: '' }]);
  assert.deepEqual(e, { logprob: 0, isGreedy: true, tokens: 0 });
  assert.equal(scorer.stats.forwards, 0);
  const [s] = await scorer.score([{ context: '', continuation: 'Hello there' }]);
  const ids = [tokenizer.bosTokenId!, ...tokenizer.encode('Hello there', { addSpecialTokens: false })];
  const logits = model.forward(tensor([ids.slice(0, -1)], { dtype: 'int64' })).logits.toArray() as number[][][];
  let total = 0;
  for (let t = 1; t < ids.length; t++) total += logSoftmax(logits[0][t - 1])[ids[t]];
  assert.ok(Math.abs(s.logprob - total) < 1e-5, `${s.logprob} vs ${total}`);
  assert.equal(s.tokens, ids.length - 1);
});

test('LocalCompleter continues plain text without special tokens, cut at the stop string, untrimmed', async () => {
  const { LocalCompleter } = await import('bfpo/eval');
  const { generate } = await import('bfpo/models');
  const chat = new LocalCompleter(model, tokenizer);
  const prompts = ['Once upon a time', 'The'];
  const settings = { maxNewTokens: 12, temperature: 0, topP: 1, seed: 1 };
  const got = await chat.complete(prompts, settings);
  for (const [i, p] of prompts.entries()) {
    const ids = tokenizer.encode(p, { addSpecialTokens: false });
    assert.notEqual(ids[0], tokenizer.encode(p)[0], 'encode() adds BOS; complete() must not');
    const { sequences } = generate(model, [ids], { maxNewTokens: 12, eosTokenIds: [1], padTokenId: 2 });
    assert.equal(got[i], tokenizer.decode(sequences[0], { skipSpecialTokens: true }));
  }
  // A stop string cuts the continuation there (the text before it is kept as generated). The random model's bytes
  // are not all UTF-8; a character of it that decodes whole (not U+FFFD) serves as the stop.
  const full = got[0];
  const k = [...full].findIndex((c, j) => j > 0 && c !== '\uFFFD');
  assert.ok(k > 0, JSON.stringify(full));
  const stop = [...full][k];
  const [cut] = await chat.complete([prompts[0]], { ...settings, stop: [stop] });
  assert.equal(cut, full.slice(0, full.indexOf(stop)));
});

test('a sliding-window model: chunks that could reach the window are scored on the plain path, with the same numbers', async () => {
  const { LlamaForCausalLM, parseConfig } = await import('bfpo/models');
  const { manualSeed } = await import('bfpo');
  const { readFileSync } = await import('node:fs');
  manualSeed(3);
  const raw = JSON.parse(readFileSync(`${tiny}/config.json`, 'utf8')) as Record<string, unknown>;
  const windowed = new LlamaForCausalLM(parseConfig({ ...raw, architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 24 })).eval();
  try {
    const short = [{ context: 'Hi', continuation: ' a' }, { context: 'Hi', continuation: ' bc' }];
    const long = [{ context: 'A rather long context of many bytes', continuation: ' x' }, { context: 'A rather long context of many bytes', continuation: ' yz' }];
    const plain = new LocalScorer(windowed, tokenizer, 8, { shareContexts: false, cache: false });
    const s1 = new LocalScorer(windowed, tokenizer, 8);
    const a = await s1.score(short);
    assert.equal(s1.stats.forwards, 2, 'short pairs stay within the window: shared path');
    const s2 = new LocalScorer(windowed, tokenizer, 8);
    const b = await s2.score(long);
    assert.equal(s2.stats.forwards, 1, 'pairs that could reach the window: plain path');
    const ref = await plain.score([...short, ...long]);
    for (const [i, s] of [...a, ...b].entries()) assert.ok(Math.abs(s.logprob - ref[i].logprob) < 1e-5, `${s.logprob} vs ${ref[i].logprob}`);
  } finally {
    windowed.dispose();
  }
});
