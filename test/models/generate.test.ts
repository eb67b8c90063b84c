import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, manualSeed, memoryStats, noGrad, tensor, tidy } from 'bfpo';
import { LlamaForCausalLM, chooseNextTokens, parseConfig } from 'bfpo/models';
import { fixture, loadCase } from './helpers.js';

const model = loadCase(fixture.cases[0]); // llama_gqa, vocab 48
const prompts = [[5, 9, 3, 17, 2, 30], [11, 4], [7, 7, 21]];

/** Greedy continuation of one prompt by full forwards without cache or padding. */
function argmaxChain(prompt: number[], n: number): number[] {
  const ids = [...prompt];
  for (let i = 0; i < n; i++) {
    ids.push(tidy(() => noGrad(() => model.forward(tensor([ids], { dtype: 'int64' })).logits.select(1, ids.length - 1).argmax(-1).item())));
  }
  return ids.slice(prompt.length);
}

test('greedy generation of a left-padded batch equals the argmax chain of full forwards per prompt', () => {
  const { sequences, finishReasons } = generate(model, prompts, { maxNewTokens: 6, eosTokenIds: [] });
  assert.deepEqual(finishReasons, ['length', 'length', 'length']);
  prompts.forEach((p, i) => assert.deepEqual(sequences[i], argmaxChain(p, 6), `row ${i}`));
});

test('sampling with the same seed repeats; another seed differs', () => {
  const o = { maxNewTokens: 12, doSample: true, temperature: 1.5, eosTokenIds: [] };
  const a = generate(model, prompts, { ...o, seed: 7 });
  const b = generate(model, prompts, { ...o, seed: 7 });
  const c = generate(model, prompts, { ...o, seed: 8 });
  assert.deepEqual(a.sequences, b.sequences);
  assert.notDeepEqual(a.sequences, c.sequences);
});

test('top_k = 1 and a tiny top_p both sample the greedy token', () => {
  const greedy = generate(model, prompts, { maxNewTokens: 5, eosTokenIds: [] }).sequences;
  assert.deepEqual(generate(model, prompts, { maxNewTokens: 5, eosTokenIds: [], doSample: true, topK: 1, seed: 3 }).sequences, greedy);
  assert.deepEqual(generate(model, prompts, { maxNewTokens: 5, eosTokenIds: [], doSample: true, topP: 1e-6, seed: 3 }).sequences, greedy);
});

test('top_k and top_p keep draws inside the allowed set', () => {
  tidy(() => {
    const logits = tensor([[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0]], { dtype: 'float32' }); // softmax: 0.64, 0.23, 0.09, ...
    manualSeed(1);
    for (let i = 0; i < 50; i++) {
      const k = chooseNextTokens(logits, { doSample: true, topK: 2 }).toArray() as number[];
      assert.ok([4, 5].includes(k[0]) && [0, 1].includes(k[1]), `topK draw ${k}`);
      const p = chooseNextTokens(logits, { doSample: true, topP: 0.8 }).toArray() as number[];
      assert.ok([4, 5].includes(p[0]) && [0, 1].includes(p[1]), `topP draw ${p}`);
    }
  });
});

test('EOS stops a row while the others continue', () => {
  const greedy = generate(model, prompts, { maxNewTokens: 6, eosTokenIds: [] }).sequences;
  // A token that ends row 1 early while another row runs longer.
  const eos = greedy[1].find((t) => greedy.some((row) => row.indexOf(t) < 0 || row.indexOf(t) > greedy[1].indexOf(t)))!;
  assert.notEqual(eos, undefined);
  const firstHit = greedy.map((s) => s.indexOf(eos));
  const steps: (number | null)[][] = [];
  const r = generate(model, prompts, { maxNewTokens: 6, eosTokenIds: [eos], onStep: ({ tokens }) => steps.push(tokens) });
  r.sequences.forEach((s, i) => {
    const cut = firstHit[i] >= 0 ? firstHit[i] + 1 : 6;
    assert.deepEqual(s, greedy[i].slice(0, cut), `row ${i}`);
    assert.equal(r.finishReasons[i], firstHit[i] >= 0 ? 'eos' : 'length');
  });
  const len1 = r.sequences[1].length;
  assert.ok(Math.max(...r.sequences.map((s) => s.length)) > len1, 'another row continues after row 1 stops');
  assert.equal(steps[len1][1], null, 'finished rows report null tokens');
  assert.equal(steps.length, Math.max(...r.sequences.map((s) => s.length)));
});

test('stop strings end a row once its decoded text contains one', () => {
  const decode = (ids: number[]) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('');
  const greedy = generate(model, prompts, { maxNewTokens: 6, eosTokenIds: [] });
  const text0 = decode(greedy.sequences[0]);
  const r = generate(model, prompts, { maxNewTokens: 6, eosTokenIds: [], decode, stopStrings: [text0.slice(1, 3)] });
  assert.equal(r.finishReasons[0], 'stop');
  assert.deepEqual(r.sequences[0], greedy.sequences[0].slice(0, 3));
  assert.equal(r.texts![0], text0.slice(0, 3));
});

test('generation frees every tensor it makes', () => {
  generate(model, prompts, { maxNewTokens: 2 });
  const before = memoryStats().liveTensors;
  generate(model, prompts, { maxNewTokens: 20, doSample: true, topP: 0.9, topK: 10, seed: 1, eosTokenIds: [] });
  assert.equal(memoryStats().liveTensors, before);
});

test('an exception in the step callback frees the generation state', () => {
  generate(model, prompts, { maxNewTokens: 1 });
  const before = memoryStats().liveTensors;
  assert.throws(() => generate(model, prompts, { maxNewTokens: 5, onStep: ({ step }) => { if (step === 2) throw new Error('stop here'); } }), /stop here/);
  assert.equal(memoryStats().liveTensors, before);
});

test('bad generation options name what they expected', () => {
  assert.throws(() => generate(model, [], {}), /Expected a non-empty array of token id arrays for prompts/);
  assert.throws(() => generate(model, [[1], [48]], {}), /Expected a non-empty array of token ids in \[0, 48\) for prompts\[1\]/);
  assert.throws(() => generate(model, [[1]], { maxNewTokens: -1 }), /Expected a non-negative integer for maxNewTokens/);
  assert.throws(() => generate(model, [[1]], { temperature: 0 }), /Expected a positive number for temperature/);
  assert.throws(() => generate(model, [[1]], { topK: 0 }), /Expected a positive integer for topK/);
  assert.throws(() => generate(model, [[1]], { topP: 1.5 }), /Expected a number in \(0, 1\] for topP/);
  assert.throws(() => generate(model, [[1]], { stopStrings: [''] }), /Expected an array of non-empty strings for stopStrings/);
  assert.throws(() => generate(model, [[1]], { stopStrings: ['x'] }), /stopStrings need a decode\(ids\) function/);
});

test('a model in bfloat16 generates as well', () => {
  const m = new LlamaForCausalLM(parseConfig(fixture.cases[3].config)).to('bfloat16');
  const r = generate(m, prompts, { maxNewTokens: 3 });
  assert.deepEqual(r.sequences.map((s) => s.length), [3, 3, 3]);
  m.dispose();
});
