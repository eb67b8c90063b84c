// The memory estimate: its parameter count against real models' numel, and every term against a hand computation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM, parseConfig } from 'bfpo/models';
import { estimateMemory, optimizerStates, parameterShapes, type MemoryEstimateInput } from 'bfpo/recipe';

const raw = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 10, hidden_size: 4, intermediate_size: 8,
  num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, tie_word_embeddings: false, ...extra,
});

test('parameterShapes names and counts the parameters a real model has', () => {
  for (const extra of [
    { num_hidden_layers: 2, tie_word_embeddings: true },
    { vocab_size: 37, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8 },
    { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', num_hidden_layers: 2 },
    { attention_bias: true, mlp_bias: true },
  ]) {
    const model = new LlamaForCausalLM(raw(extra), { init: 'empty' });
    const real = model.namedParameters().map(([n, p]) => [n, p.shape.reduce((a, b) => a * b, 1)] as const);
    model.dispose();
    const est = parameterShapes(parseConfig(raw(extra)));
    assert.deepEqual(est.map((p) => [p.name, p.numel]).sort(), real.map(([n, c]) => [n, c]).sort(), JSON.stringify(extra));
  }
});

test('the memory estimate adds up the terms computed by hand for a small config', () => {
  // Parameters: embed 10·4 = 40; q 4·4 = 16, k 4·2 = 8, v 8, o 16; gate, up, down 3·32 = 96; two norms 8; final norm 4;
  // lm_head 40. Total 236.
  const config = parseConfig(raw());
  const base: MemoryEstimateInput = {
    config, weightBytes: 4, masterWeights: false, trainable: { kind: 'all' }, optimizerStates: 2, reference: 'copy',
    sequences: 2, seqLen: 3, gradientCheckpointing: false,
  };
  const terms = (x: MemoryEstimateInput): Record<string, number> => {
    const e = estimateMemory(x);
    assert.equal(e.totalBytes, e.terms.reduce((s, t) => s + t.bytes, 0));
    return Object.fromEntries([...e.terms.map((t) => [t.name, t.bytes]), ['total', e.totalBytes], ['trainable', e.trainableParameters], ['parameters', e.parameters]]);
  };
  // Activations: a = 4·4 + (2 + 2·1)·2 + 2·2 + 3·8 = 52 per token and layer (no attention probabilities: they are
  // computed again in the backward pass); 2·3·1·52 = 312 elements × 4 bytes = 1248, plus logits 2 · 2·3·10 · 4 = 480:
  // 1728.
  assert.deepEqual(terms(base), {
    parameters: 236, trainable: 236, weights: 944, gradients: 944, 'master weights': 0, 'optimizer states': 1888,
    'reference copy': 944, activations: 1728, total: 944 + 944 + 1888 + 944 + 1728,
  });
  // Checkpointing keeps 2·3·1·4 = 24 layer inputs plus one layer's 312: 336 × 4 + 480 = 1824.
  assert.equal(terms({ ...base, gradientCheckpointing: true }).activations, 1824);
  // bf16: weights, gradients and activations in 2 bytes; float32 masters and states.
  assert.deepEqual(terms({ ...base, weightBytes: 2, masterWeights: true, reference: 'precomputed' }), {
    parameters: 236, trainable: 236, weights: 472, gradients: 472, 'master weights': 944, 'optimizer states': 1888,
    'reference copy': 0, activations: 312 * 2 + 480, total: 472 + 472 + 944 + 1888 + 312 * 2 + 480,
  });
  // LoRA r = 2 on q_proj (4 → 4) and v_proj (4 → 2): 2·(4+4) + 2·(4+2) = 28 float32 adapter parameters.
  const lora = terms({ ...base, trainable: { kind: 'lora', r: 2, targets: ['q_proj', 'v_proj'] }, reference: 'adapter' });
  assert.deepEqual([lora.trainable, lora.weights, lora.gradients, lora['optimizer states'], lora['reference copy']], [28, 944 + 112, 112, 224, 0]);
  // Selected layers: down_proj only (8·4 = 32), SGD without momentum keeps no state.
  const sel = terms({ ...base, trainable: { kind: 'selected', fragments: ['down_proj'] }, optimizerStates: 0 });
  assert.deepEqual([sel.trainable, sel.gradients, sel['optimizer states']], [32, 128, 0]);
});

test('optimizer states per parameter: AdamW 2, SGD 1 with momentum and 0 without, RMSprop 1 or 2', () => {
  assert.equal(optimizerStates('adamw_torch', 0), 2);
  assert.equal(optimizerStates('adam', 0.9), 2);
  assert.equal(optimizerStates('sgd', 0), 0);
  assert.equal(optimizerStates('sgd', 0.9), 1);
  assert.equal(optimizerStates('rmsprop', 0), 1);
  assert.equal(optimizerStates('rmsprop', 0.9), 2);
});

test('per rank with sharding: Zephyr-7B full BFPO in bf16 with a frozen reference copy on 4 ranks', () => {
  // Mistral-7B's shape (docs/distributed.md): P = 7,241,732,096; outside the layers 2 × 32000 × 4096 + 4096
  // (embeddings, lm_head, final norm); one layer 218,112,000.
  const config = parseConfig({
    architectures: ['MistralForCausalLM'], model_type: 'mistral', vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336,
    num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, max_position_embeddings: 32768, rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
  });
  const P = 7_241_732_096;
  const outer = 2 * 32000 * 4096 + 4096;
  const layer = 218_112_000;
  const base: MemoryEstimateInput = {
    config, weightBytes: 2, masterWeights: true, trainable: { kind: 'all' }, optimizerStates: 2, reference: 'copy',
    sequences: 2, seqLen: 1024, gradientCheckpointing: true,
  };
  const term = (x: MemoryEstimateInput, name: string): number => estimateMemory(x).terms.find((t) => t.name === name)!.bytes;
  const none = { ...base, ranks: 4, sharding: 'none' as const };
  assert.equal(term(none, 'weights'), 2 * P);
  assert.equal(term(none, 'optimizer states'), 8 * P);
  // optimizer: masters and moments split 4 ways; weights, gradients (whole during the backward pass) and reference not.
  const opt = { ...base, ranks: 4, sharding: 'optimizer' as const };
  assert.equal(term(opt, 'weights'), 2 * P);
  assert.equal(term(opt, 'gradients'), 2 * P);
  assert.equal(term(opt, 'master weights'), P);
  assert.equal(term(opt, 'optimizer states'), 2 * P);
  assert.equal(term(opt, 'reference copy'), 2 * P);
  // The docs' table: 7 bytes per parameter for the policy, 2 for the reference, 60.7 GiB in all before activations.
  assert.equal(((term(opt, 'weights') + term(opt, 'gradients') + term(opt, 'master weights') + term(opt, 'optimizer states') + term(opt, 'reference copy')) / 2 ** 30).toFixed(1), '60.7');
  // full: a quarter of everything, plus the others' parameters outside the layers and of one layer while it runs.
  const full = { ...base, ranks: 4, sharding: 'full' as const };
  const held = P / 4 + ((outer + layer) * 3) / 4;
  assert.equal(term(full, 'weights'), 2 * held);
  assert.equal(term(full, 'reference copy'), 2 * held);
  assert.equal(term(full, 'gradients'), 2 * (P / 4 + layer));
  assert.equal(term(full, 'master weights'), P);
  assert.equal(term(full, 'optimizer states'), 2 * P);
  // One rank: sharding changes nothing.
  assert.deepEqual(estimateMemory({ ...base, ranks: 1, sharding: 'full' }), estimateMemory(base));
});
