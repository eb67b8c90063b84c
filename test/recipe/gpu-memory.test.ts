// The memory arithmetic of docs/gpu.md: a LoRA BFPO step of a Mistral-7B-shaped model at sequence 1024, each row of
// the doc's table recomputed with the estimator, and the step with its buffer batch fitting an 80 GB GPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/models/config.js';
import { estimateMemory, gib, type MemoryEstimateInput } from '../../src/recipe/memory-estimate.js';

const MISTRAL_7B = parseConfig({
  architectures: ['MistralForCausalLM'], model_type: 'mistral', vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336,
  num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, max_position_embeddings: 32768, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false,
});
const step = (sequences: number, gradientCheckpointing: boolean): MemoryEstimateInput => ({
  config: MISTRAL_7B, weightBytes: 2, masterWeights: true, optimizerStates: 2, reference: 'adapter', seqLen: 1024,
  trainable: { kind: 'lora', r: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
  sequences, gradientCheckpointing,
});
const doc = readFileSync(new URL('../../docs/gpu.md', import.meta.url), 'utf8');

test('the parameter and adapter counts of docs/gpu.md', () => {
  const e = estimateMemory(step(2, true));
  assert.equal(e.parameters, 7_241_732_096);
  assert.equal(e.trainableParameters, 41_943_040);
  assert.ok(doc.includes('**7,241,732,096**') && doc.includes('**41,943,040**'));
  const fixed = e.terms.filter((t) => t.name !== 'activations').reduce((s, t) => s + t.bytes, 0);
  assert.ok(doc.includes(`| together | | ${fixed.toLocaleString('en-US')} (${gib(fixed)}) |`), `fixed part ${fixed}`);
});

test('every row of the table in docs/gpu.md is what the estimator gives', () => {
  const rows: [number, string, boolean][] = [
    [2, '2 (one pair)', true], [2, '2 (one pair)', false], [4, '4 (pair + buffer pair)', true],
    [4, '4 (pair + buffer pair)', false], [16, '16 (4 pairs + 4 buffer pairs)', true], [16, '16 (4 pairs + 4 buffer pairs)', false],
  ];
  for (const [b, label, gc] of rows) {
    const e = estimateMemory(step(b, gc));
    const act = e.terms.find((t) => t.name === 'activations')!.bytes;
    const row = `| ${label} | ${gc ? 'on' : 'off'} | ${gib(act)} | ${gib(e.totalBytes)} |`;
    assert.ok(doc.includes(row), `docs/gpu.md lacks the row ${row}`);
  }
});

test('a LoRA BFPO step with its buffer pair at sequence 1024 fits an 80 GB GPU, with and without checkpointing', () => {
  for (const gc of [true, false]) {
    const e = estimateMemory(step(4, gc));
    assert.ok(e.totalBytes < 80e9, `${gc ? 'with' : 'without'} checkpointing: ${gib(e.totalBytes)}`);
  }
  assert.ok(estimateMemory(step(16, false)).totalBytes > 80e9, 'four pairs without checkpointing do not fit');
});
