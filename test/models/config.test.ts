import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from 'bfpo';
import { layerWindow, parseConfig, toHfConfig } from 'bfpo/models';

const llama = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 128256, hidden_size: 4096, intermediate_size: 14336,
  num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 500000,
  max_position_embeddings: 131072, tie_word_embeddings: false, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009],
  rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  torch_dtype: 'bfloat16', hidden_act: 'silu',
};

test('a Llama 3.1 config parses with every field', () => {
  const c = parseConfig(llama);
  assert.deepEqual(c, {
    architecture: 'LlamaForCausalLM', modelType: 'llama', vocabSize: 128256, hiddenSize: 4096, intermediateSize: 14336,
    numHiddenLayers: 32, numAttentionHeads: 32, numKeyValueHeads: 8, headDim: 128, rmsNormEps: 1e-5, ropeTheta: 500000,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    maxPositionEmbeddings: 131072, tieWordEmbeddings: false, qkvBias: false, oBias: false, mlpBias: false,
    slidingWindow: null, layerTypes: new Array(32).fill('full_attention'), bosTokenId: 128000, eosTokenIds: [128001, 128008, 128009], padTokenId: null,
    torchDtype: 'bfloat16',
  });
  assert.deepEqual(parseConfig(toHfConfig(c)), c, 'toHfConfig round-trips');
  assert.deepEqual(parseConfig(JSON.stringify(llama)), c, 'accepts the JSON text');
});

test('defaults: kv heads = heads, head_dim = hidden / heads, no scaling, eps 1e-6, theta 1e4', () => {
  const c = parseConfig({ model_type: 'llama', vocab_size: 10, hidden_size: 12, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 3 });
  assert.equal(c.architecture, 'LlamaForCausalLM');
  assert.equal(c.numKeyValueHeads, 3);
  assert.equal(c.headDim, 4);
  assert.equal(c.ropeScaling, null);
  assert.equal(c.rmsNormEps, 1e-6);
  assert.equal(c.ropeTheta, 10000);
  assert.deepEqual(c.eosTokenIds, []);
  assert.equal(parseConfig({ ...llama, head_dim: 64 }).headDim, 64);
  assert.equal(parseConfig({ ...llama, head_dim: null }).headDim, 128);
});

test('Qwen2 has q/k/v biases and its sliding window from max_window_layers; Mistral windows every layer', () => {
  const base = { vocab_size: 10, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 4, num_attention_heads: 2 };
  const q = parseConfig({ ...base, architectures: ['Qwen2ForCausalLM'], use_sliding_window: false, sliding_window: 32 });
  assert.deepEqual([q.qkvBias, q.oBias, q.slidingWindow], [true, false, null]);
  const qw = parseConfig({ ...base, architectures: ['Qwen2ForCausalLM'], use_sliding_window: true, sliding_window: 32, max_window_layers: 2 });
  assert.deepEqual([0, 1, 2, 3].map((i) => layerWindow(qw, i)), [null, null, 32, 32]);
  const m = parseConfig({ ...base, architectures: ['MistralForCausalLM'], sliding_window: 4096, attention_bias: true });
  assert.deepEqual([m.qkvBias, m.oBias, m.slidingWindow, layerWindow(m, 0)], [false, false, 4096, 4096]);
  assert.equal(parseConfig({ ...base, architectures: ['MistralForCausalLM'], sliding_window: null }).slidingWindow, null);
  assert.equal(parseConfig({ ...base, architectures: ['MistralForCausalLM'] }).slidingWindow, 4096, "MistralConfig's default");
  assert.equal(layerWindow(parseConfig({ ...base, architectures: ['Qwen2ForCausalLM'], use_sliding_window: true }), 3), null, "Qwen2Config's max_window_layers 28");
  const lt = parseConfig({ ...base, architectures: ['Qwen2ForCausalLM'], use_sliding_window: true, sliding_window: 8, layer_types: ['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'] });
  assert.deepEqual([0, 1, 2, 3].map((i) => layerWindow(lt, i)), [8, null, 8, null]);
  assert.deepEqual(parseConfig(toHfConfig(lt)), lt, 'layer_types round-trip');
  assert.deepEqual(parseConfig(toHfConfig(qw)), qw, 'max_window_layers round-trip');
  assert.throws(() => parseConfig({ ...base, architectures: ['Qwen2ForCausalLM'], use_sliding_window: true, layer_types: ['full_attention'] }),
    /Expected a list of 4 "full_attention" or "sliding_attention" for config key layer_types but received \["full_attention"\]/);
  const l = parseConfig({ ...base, architectures: ['LlamaForCausalLM'], attention_bias: true, mlp_bias: true });
  assert.deepEqual([l.qkvBias, l.oBias, l.mlpBias], [true, true, true]);
});

test('rope_scaling: llama3, linear under rope_type or the older type key; default means none', () => {
  assert.deepEqual(parseConfig({ ...llama, rope_scaling: { type: 'linear', factor: 2 } }).ropeScaling, { type: 'linear', factor: 2 });
  assert.deepEqual(parseConfig({ ...llama, rope_scaling: { rope_type: 'linear', factor: 4 } }).ropeScaling, { type: 'linear', factor: 4 });
  assert.equal(parseConfig({ ...llama, rope_scaling: { rope_type: 'default' } }).ropeScaling, null);
  const v5 = parseConfig({ ...llama, rope_scaling: undefined, rope_theta: undefined, rope_parameters: { ...llama.rope_scaling, rope_theta: 500000 } });
  assert.deepEqual([v5.ropeTheta, v5.ropeScaling], [500000, parseConfig(llama).ropeScaling], 'rope_parameters of newer transformers');
  assert.throws(() => parseConfig({ ...llama, rope_parameters: { rope_type: 'yarn', rope_theta: 1e6 } }), /Unsupported rope_scaling kind "yarn" in config key rope_parameters.rope_type/);
});

test('errors name the key and what is supported', () => {
  const err = (patch: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => parseConfig({ ...llama, ...patch }), (e: Error) => e instanceof ConfigError && re.test(e.message));
  err({ architectures: ['GPT2LMHeadModel'] }, /Unsupported architecture \["GPT2LMHeadModel"\] in config key architectures; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM/);
  err({ architectures: undefined, model_type: 'gemma' }, /Unsupported model_type "gemma" \(and no architectures key\); supported: LlamaForCausalLM/);
  err({ rope_scaling: { rope_type: 'yarn', factor: 4 } }, /Unsupported rope_scaling kind "yarn" in config key rope_scaling.rope_type; supported: llama3, linear/);
  err({ rope_scaling: { type: 'dynamic', factor: 2 } }, /Unsupported rope_scaling kind "dynamic"/);
  err({ rope_scaling: 'llama3' }, /Expected an object or null for config key rope_scaling/);
  err({ rope_scaling: { rope_type: 'linear' } }, /Expected a positive number for config key factor but received undefined/);
  err({ rope_scaling: { ...llama.rope_scaling, high_freq_factor: 0.5 } }, /Expected a number above low_freq_factor \(1\) for config key rope_scaling.high_freq_factor/);
  err({ rope_scaling: { ...llama.rope_scaling, original_max_position_embeddings: 0 } }, /Expected a positive integer for config key original_max_position_embeddings/);
  err({ hidden_size: 0 }, /Expected a positive integer for config key hidden_size but received 0/);
  err({ vocab_size: '32000' }, /Expected a positive integer for config key vocab_size but received "32000"/);
  err({ num_key_value_heads: 5 }, /Expected a divisor of num_attention_heads \(32\) for config key num_key_value_heads but received 5/);
  err({ head_dim: 7 }, /Expected an even number .* for config key head_dim but received 7/);
  err({ hidden_size: 100, head_dim: undefined }, /Expected a positive integer for config key head_dim but received undefined/);
  err({ rms_norm_eps: -1 }, /Expected a positive number for config key rms_norm_eps/);
  err({ tie_word_embeddings: 'yes' }, /Expected true or false for config key tie_word_embeddings/);
  err({ hidden_act: 'gelu' }, /Expected "silu" .* for config key hidden_act but received "gelu"/);
  err({ eos_token_id: [1, -2] }, /Expected a non-negative integer or a list of them for config key eos_token_id/);
  err({ pad_token_id: 1.5 }, /Expected a non-negative integer or null for config key pad_token_id/);
  err({ torch_dtype: 'int8' }, /Expected float32, float16 or bfloat16 for config key torch_dtype but received "int8"/);
  assert.throws(() => parseConfig('{nope'), /The model config is not valid JSON/);
  assert.throws(() => parseConfig([1]), /Expected a JSON object for the model config but received \[1\]/);
});
