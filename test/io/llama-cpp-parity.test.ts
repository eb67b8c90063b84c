// Independent parity: GGUF import (names, Q/K rows, tokenizer) plus the Llama forward pass against llama.cpp's
// log-probabilities recorded by scripts/fixtures/llama-cpp-parity.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { noGrad, tensor, tidy } from 'bfpo';
import { LlamaForCausalLM, ggufToHf } from 'bfpo/models';

const fixtures = new URL('../fixtures/io/', import.meta.url).pathname;
const read = (name: string) => JSON.parse(readFileSync(fixtures + name, 'utf8'));

/** Our log-probabilities [seq, vocab] for [bos, ...ids], from a model loaded through ggufToHf in float32. */
function ourLogProbs(gguf: string): (ids: number[]) => number[][] {
  const { config, weights } = ggufToHf(fixtures + gguf, { dtype: 'float32' });
  const model = new LlamaForCausalLM(config, { init: 'empty' });
  model.loadStateDict(weights);
  return (ids) => noGrad(() => tidy(() => model.forward(tensor([ids])).logits.logSoftmax(-1).select(0, 0))).toArray() as number[][];
}

test('tiny Llama 2 GGUF: our next-token log-probs equal llama.cpp\'s within 1e-4 (8 prompts, every position)', () => {
  const rec = read('llama2-tiny-llamacpp.json');
  const logProbs = ourLogProbs('llama-2-tiny-random.gguf');
  let worstF32 = 0;
  let worstF16 = 0;
  for (const p of rec.prompts) {
    const seq = [rec.bosId, ...p.ids];
    const ours = logProbs(seq);
    assert.equal(ours.length, p.f32Positions.length);
    ours.forEach((row, i) => {
      // llama.cpp on the F32 re-export of the same weights computes in float32 throughout.
      for (const [id, v] of p.f32Positions[i].top) worstF32 = Math.max(worstF32, Math.abs(row[id] - v));
      rec.probeIds.forEach((id: number, k: number) => {
        worstF32 = Math.max(worstF32, Math.abs(row[id] - p.f32Positions[i].probes[k]));
        worstF16 = Math.max(worstF16, Math.abs(row[id] - p.positions[i].probes[k]));
      });
    });
  }
  assert.ok(worstF32 < 1e-4, `max |difference| ${worstF32} against llama.cpp (F32 weights)`);
  // On the original F16 file ggml also rounds activations to float16 inside matrix products.
  assert.ok(worstF16 < 1e-3, `max |difference| ${worstF16} against llama.cpp (F16 weights)`);
  const full = new Float32Array(Buffer.from(rec.prompts[0].fullLogProbs, 'base64').buffer.slice(0));
  const last = logProbs([rec.bosId, ...rec.prompts[0].ids]).at(-1)!;
  assert.equal(full.length, last.length);
  assert.ok(last.every((v, j) => Math.abs(v - full[j]) < 1e-3), 'full vocabulary at the last position (F16 weights)');
});

test('GQA model written by bfpo in Q8_0: our log-probs equal llama.cpp\'s within 1e-4 over the whole vocabulary', () => {
  const rec = read('gqa-tiny-llamacpp.json');
  const logProbs = ourLogProbs('gqa-tiny-q8_0.gguf');
  let worst = 0;
  for (const p of rec.prompts) {
    const ours = logProbs([p.bosId, ...p.ids]);
    ours.forEach((row, i) => row.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - p.logProbs[i][j])); }));
  }
  assert.ok(worst < 1e-4, `max |difference| ${worst}`);
});
