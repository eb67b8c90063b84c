import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Tensor, manualSeed, randn, tensor, fromBuffer, FormatError } from 'bfpo';
import { equal } from 'bfpo/tensor';
import {
  ggufNameToHf, hfNameToGguf, permuteQkRows, hfConfigFromGguf, readGguf, readGgufTensor, writeGguf,
} from 'bfpo/io';
import { ggufArchs, ggufToHf, writeGgufFromHf } from 'bfpo/models';
import { tmpDir } from './tmp-dir.js';

const tiny = new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;
const tmp = (): string => tmpDir('bfpo-gguf-llama-');

test('tensor names map between GGUF and Hugging Face in both directions', () => {
  const pairs: [string, string][] = [
    ['token_embd.weight', 'model.embed_tokens.weight'], ['output_norm.weight', 'model.norm.weight'], ['output.weight', 'lm_head.weight'],
    ['blk.0.attn_norm.weight', 'model.layers.0.input_layernorm.weight'], ['blk.12.attn_q.weight', 'model.layers.12.self_attn.q_proj.weight'],
    ['blk.1.attn_k.bias', 'model.layers.1.self_attn.k_proj.bias'], ['blk.1.attn_v.weight', 'model.layers.1.self_attn.v_proj.weight'],
    ['blk.1.attn_output.weight', 'model.layers.1.self_attn.o_proj.weight'], ['blk.2.ffn_norm.weight', 'model.layers.2.post_attention_layernorm.weight'],
    ['blk.2.ffn_gate.weight', 'model.layers.2.mlp.gate_proj.weight'], ['blk.2.ffn_up.weight', 'model.layers.2.mlp.up_proj.weight'],
    ['blk.2.ffn_down.weight', 'model.layers.2.mlp.down_proj.weight'],
  ];
  for (const [g, hf] of pairs) {
    assert.equal(ggufNameToHf(g), hf);
    assert.equal(hfNameToGguf(hf), g);
  }
  for (const bad of ['rope_freqs.weight', 'blk.0.attn_qkv.weight', 'token_embd', 'blk.x.attn_q.weight']) assert.equal(ggufNameToHf(bad), undefined, bad);
  assert.equal(hfNameToGguf('model.layers.0.self_attn.rotary_emb.inv_freq'), undefined);
});

test('Q/K row permutation equals llama.cpp\'s reshape(n_head, 2, d/2, cols).swapaxes(1, 2), done here with libtorch ops', () => {
  manualSeed(0);
  for (const [heads, headDim, cols] of [[2, 4, 8], [4, 8, 3], [1, 2, 5]]) {
    const rows = heads * headDim;
    const w = randn([rows, cols]);
    const want = w.reshape([heads, 2, headDim / 2, cols]).transpose(1, 2).reshape([rows, cols]);
    const got = permuteQkRows(w.toBuffer(), rows, heads, true);
    assert.deepEqual(got, want.toBuffer(), `heads ${heads} headDim ${headDim}`);
    assert.deepEqual(permuteQkRows(got, rows, heads, false), w.toBuffer());
  }
  assert.throws(() => permuteQkRows(Buffer.alloc(24), 6, 4, true), /Expected rows divisible into 4 heads of even size for Q\/K rows but received 6/);
});

test('config.json fields come from the llama.* metadata of the tiny Llama 2', () => {
  const c = hfConfigFromGguf(readGguf(tiny), ggufArchs());
  assert.deepEqual(c, {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 8, intermediate_size: 32, num_hidden_layers: 1,
    num_attention_heads: 2, num_key_value_heads: 2, head_dim: 4, rms_norm_eps: 1e-5, rope_theta: 10000,
    max_position_embeddings: 4096, vocab_size: 32000, hidden_act: 'silu', attention_bias: false, tie_word_embeddings: false,
    torch_dtype: 'float16', bos_token_id: 1, eos_token_id: 2,
  });
});

test('ggufToHf gives HF names, un-permuted Q/K and the stored values', () => {
  const file = readGguf(tiny);
  const { weights, config, tokenizer } = ggufToHf(tiny, { dtype: 'float32' });
  assert.equal(weights.size, 12);
  assert.equal(config.num_hidden_layers, 1);
  assert.equal(tokenizer!.bosTokenId, 1);
  const q = weights.get('model.layers.0.self_attn.q_proj.weight')!;
  assert.equal(q.dtype, 'float32');
  const stored = readGgufTensor(file, 'blk.0.attn_q.weight');
  const gg = fromBuffer(stored.bytes, { dtype: 'float16', shape: [8, 8] }).to('float32');
  // Permuting our HF-layout Q back to llama.cpp's layout must reproduce the stored rows.
  assert.deepEqual(q.reshape([2, 2, 2, 8]).transpose(1, 2).reshape([8, 8]).toArray(), gg.toArray());
  const v = weights.get('model.layers.0.self_attn.v_proj.weight')!;
  assert.deepEqual(v.toArray(), fromBuffer(readGgufTensor(file, 'blk.0.attn_v.weight').bytes, { dtype: 'float16', shape: [8, 8] }).to('float32').toArray());
  assert.equal(ggufToHf(tiny).weights.get('model.embed_tokens.weight')!.dtype, 'float16');
  assert.throws(() => ggufToHf(tiny, { dtype: 'int64' }), /Expected a floating dtype for ggufToHf dtype but received "int64"/);
});

/** A random Llama with grouped-query attention (4 heads, 2 kv heads), rows of 64 so Q8_0 applies. */
function randomLlama(vocab: number, tied: boolean): { config: Record<string, unknown>; weights: Map<string, Tensor> } {
  manualSeed(1);
  const h = 64;
  const config = {
    architectures: ['LlamaForCausalLM'], hidden_size: h, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 500000, max_position_embeddings: 512, vocab_size: vocab,
    tie_word_embeddings: tied, rope_scaling: { type: 'linear', factor: 2 },
  };
  const weights = new Map<string, Tensor>([['model.embed_tokens.weight', randn([vocab, h])], ['model.norm.weight', randn([h])]]);
  if (!tied) weights.set('lm_head.weight', randn([vocab, h]));
  for (let l = 0; l < 2; l++) {
    const p = `model.layers.${l}.`;
    weights.set(`${p}input_layernorm.weight`, randn([h]));
    weights.set(`${p}post_attention_layernorm.weight`, randn([h]));
    weights.set(`${p}self_attn.q_proj.weight`, randn([h, h]));
    weights.set(`${p}self_attn.k_proj.weight`, randn([32, h]));
    weights.set(`${p}self_attn.v_proj.weight`, randn([32, h]));
    weights.set(`${p}self_attn.o_proj.weight`, randn([h, h]));
    weights.set(`${p}mlp.gate_proj.weight`, randn([96, h]));
    weights.set(`${p}mlp.up_proj.weight`, randn([96, h]));
    weights.set(`${p}mlp.down_proj.weight`, randn([h, 96]));
  }
  return { config, weights };
}

test('HF -> GGUF -> HF round-trips weights: F32 exactly, F16 as libtorch rounds, Q8_0 within its error', () => {
  const { config, weights } = randomLlama(128, false);
  for (const fileType of ['F32', 'F16', 'Q8_0'] as const) {
    const p = join(tmp(), `m-${fileType}.gguf`);
    writeGgufFromHf(p, { config, weights, fileType, name: 'random' });
    const file = readGguf(p);
    const types = new Map(file.tensors.map((t) => [t.name, t.type]));
    assert.equal(types.get('output_norm.weight'), 'F32');
    assert.equal(types.get('blk.0.attn_k.weight'), fileType);
    assert.equal(file.metadata['general.file_type'].value, { F32: 0, F16: 1, Q8_0: 7 }[fileType]);
    const back = ggufToHf(p, { dtype: 'float32' });
    assert.equal(back.config.num_key_value_heads, 2);
    assert.equal(back.config.rope_theta, 500000);
    assert.deepEqual(back.config.rope_scaling, { type: 'linear', factor: 2 });
    assert.deepEqual([...back.weights.keys()].sort(), [...weights.keys()].sort());
    for (const [name, w] of weights) {
      const got = back.weights.get(name)!;
      assert.deepEqual(got.shape, w.shape, name);
      if (fileType === 'F32' || w.shape.length === 1) assert.ok(equal(got, w), name);
      else if (fileType === 'F16') assert.ok(equal(got, w.to('float16').to('float32')), name);
      else {
        // Q8_0: |error| <= d/2 per block with d = max|x|/127, so <= max|row| / 254 (plus 127 times the float16 rounding of d).
        const err = got.sub(w).abs().max().item();
        const bound = (w.abs().max().item() / 254) * (1 + 254 / 2048); // d/2, plus up to 127 float16 roundings of d
        assert.ok(err <= bound, `${name}: error ${err} > ${bound}`);
      }
    }
  }
});

test('tied embeddings are written without output.weight and read back as tied', () => {
  const { config, weights } = randomLlama(100, true);
  const p = join(tmp(), 'tied.gguf');
  writeGgufFromHf(p, { config, weights, fileType: 'F32' });
  assert.ok(!readGguf(p).tensors.some((t) => t.name === 'output.weight'));
  const back = ggufToHf(p);
  assert.equal(back.config.tie_word_embeddings, true);
  assert.equal(back.weights.has('lm_head.weight'), false);
  assert.equal(back.tokenizer, undefined);
});

test('unsupported models and bad configs are clear errors', () => {
  const dir = tmp();
  const write = (name: string, metadata: Record<string, unknown>, tensors: Record<string, unknown> = { 'token_embd.weight': { type: 'F32', shape: [4, 2], data: Buffer.alloc(32) } }): string => {
    const p = join(dir, name);
    writeGguf(p, { metadata: metadata as never, tensors: tensors as never });
    return p;
  };
  const base = {
    'general.architecture': { type: 'string', value: 'llama' }, 'llama.embedding_length': { type: 'uint32', value: 2 },
    'llama.attention.head_count': { type: 'uint32', value: 1 }, 'llama.feed_forward_length': { type: 'uint32', value: 4 },
    'llama.block_count': { type: 'uint32', value: 1 }, 'llama.attention.layer_norm_rms_epsilon': { type: 'float32', value: 1e-5 },
  };
  assert.throws(() => ggufToHf(write('a.gguf', { ...base, 'general.architecture': { type: 'string', value: 'gemma' } })),
    (e: Error) => e instanceof FormatError && /"general.architecture": architecture "gemma" is not supported \(supported: llama, qwen2\)/.test(e.message));
  const { 'llama.block_count': _, ...noBlocks } = base;
  assert.throws(() => ggufToHf(write('b.gguf', noBlocks)), /"llama.block_count": is missing/);
  assert.throws(() => write('bb.gguf', { ...base, x: undefined }), /Expected a \{ type, value \} object for GGUF metadata x but received undefined/);
  assert.throws(() => ggufToHf(write('c.gguf', { ...base, 'llama.embedding_length': { type: 'string', value: '2' } })), /"llama.embedding_length": must be a number, found string/);
  assert.throws(() => ggufToHf(write('d.gguf', base, { x: { type: 'F32', shape: [1], data: Buffer.alloc(4) } })), /"token_embd.weight": tensor is missing/);
  assert.throws(() => ggufToHf(write('e.gguf', base, { 'token_embd.weight': { type: 'F32', shape: [4, 2], data: Buffer.alloc(32) }, 'blk.0.attn_qkv.weight': { type: 'F32', shape: [2], data: Buffer.alloc(8) } })),
    /"blk.0.attn_qkv.weight": has no Hugging Face counterpart/);
  assert.throws(() => ggufToHf(write('f.gguf', base, { 'token_embd.weight': { type: 'F32', shape: [4, 2], data: Buffer.alloc(32) }, 'rope_freqs.weight': { type: 'F32', shape: [1], data: Buffer.alloc(4) } })),
    /"rope_freqs.weight": holds precomputed rope frequencies/);
  assert.throws(() => ggufToHf(write('h.gguf', { ...base, 'llama.attention.head_count': { type: 'uint32', value: 0 } })), /"llama.attention.head_count": must be a positive number, found 0/);
  assert.throws(() => ggufToHf(write('i.gguf', { ...base, 'llama.attention.head_count': { type: 'uint32', value: 3 } }, { 'token_embd.weight': { type: 'F32', shape: [4, 2], data: Buffer.alloc(32) }, 'blk.0.attn_q.weight': { type: 'F32', shape: [2, 2], data: Buffer.alloc(16) } })),
    /"blk.0.attn_q.weight": 2 rows cannot be split into 3 heads of even size/);
  assert.throws(() => ggufToHf(write('g.gguf', { ...base, 'llama.rope.scaling.type': { type: 'string', value: 'yarn' } })), /rope scaling "yarn" is not supported \(supported: none, linear\)/);
  const { config, weights } = randomLlama(10, true);
  const p = join(dir, 'out.gguf');
  assert.throws(() => writeGgufFromHf(p, { config: { ...config, architectures: ['GPT2LMHeadModel'] }, weights }), /Expected one of LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM for config.architectures\[0\] but received "GPT2LMHeadModel"/);
  assert.throws(() => writeGgufFromHf(p, { config: { ...config, hidden_size: 0 }, weights }), /Expected a positive integer for config.hidden_size/);
  assert.throws(() => writeGgufFromHf(p, { config: { ...config, rope_scaling: { rope_type: 'llama3', factor: 8 } }, weights }), /for config.rope_scaling but received "llama3"/);
  assert.throws(() => writeGgufFromHf(p, { config, weights: { 'model.layers.0.self_attn.rotary_emb.inv_freq': tensor([1]) } }), /Expected a Llama-family parameter name/);
});

test('GGUF files written by bfpo load in llama.cpp (recorded by scripts/fixtures/llama-cpp-parity.mjs)', () => {
  const fixtures = new URL('../fixtures/io/', import.meta.url).pathname;
  const rec = JSON.parse(readFileSync(join(fixtures, 'llama2-tiny-llamacpp.json'), 'utf8'));
  // The tiny model read by bfpo and written back as F16 gave llama.cpp bit-identical log-probabilities.
  assert.deepEqual(rec.reexport.F16, { idsEqual: true, maxAbsLogProbDiff: 0 });
  assert.equal(rec.reexport.F32.idsEqual, true);
  assert.ok(rec.reexport.F32.maxAbsLogProbDiff < 1e-3);
  // The grouped-query-attention model bfpo wrote in Q8_0, which llama.cpp evaluated.
  const gqa = JSON.parse(readFileSync(join(fixtures, 'gqa-tiny-llamacpp.json'), 'utf8'));
  const { config, weights, tokenizer } = ggufToHf(join(fixtures, 'gqa-tiny-q8_0.gguf'));
  assert.equal(gqa.tensorTypes['blk.0.attn_k.weight'], 'Q8_0');
  assert.deepEqual([config.num_attention_heads, config.num_key_value_heads, config.head_dim, config.vocab_size], [4, 2, 8, 306]);
  assert.deepEqual(weights.get('model.layers.1.self_attn.k_proj.weight')!.shape, [16, 32]);
  for (const p of gqa.prompts) {
    assert.deepEqual(tokenizer!.encode(p.text), [p.bosId, ...p.ids], p.text);
    assert.equal(p.logProbs.length, p.ids.length + 1);
    assert.equal(p.logProbs[0].length, 306);
  }
});
