// Weights that disagree with their config: every stored tensor's shape and dtype is checked against the model the
// config describes before any tensor bytes are read, and a mismatch is refused naming the tensor, what the config
// implies and what the file holds. Floating-point tensors of another precision are cast, as transformers does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, fromBuffer, loadPretrained, manualSeed, savePretrained, tensor, type Tensor } from 'bfpo';
import { LlamaForCausalLM, parseConfig } from 'bfpo/models';
import { loadSafetensors, readGguf, readGgufTensorBytes, saveSafetensors, writeGguf } from 'bfpo/io';
import { tmpDir } from '../io/tmp-dir.js';

const config = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 64, max_position_embeddings: 64, torch_dtype: 'bfloat16',
};
const K = 'model.layers.0.self_attn.k_proj.weight'; // [8, 16]: 2 key-value heads of 4 dimensions over hidden size 16
const EMBED = 'model.embed_tokens.weight'; // [64, 16]

/** A saved random model folder; returns its path. */
function folder(opts: { maxShardSize?: number } = {}): string {
  manualSeed(11);
  const model = new LlamaForCausalLM(parseConfig(config));
  const dir = join(tmpDir('bfpo-wcheck-'), 'model');
  savePretrained(model, null, dir, opts);
  model.dispose();
  // The weights are float32; the config says bfloat16, as many published folders do.
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), torch_dtype: 'bfloat16' }));
  return dir;
}

/** Rewrites `dir/model.safetensors` with `edit` applied to its tensors. */
function rewrite(dir: string, edit: (w: Map<string, Tensor>) => void): void {
  const file = join(dir, 'model.safetensors');
  const w = loadSafetensors(file);
  edit(w);
  saveSafetensors(file, w);
  for (const t of w.values()) t.dispose();
}

const refuses = (dir: string, ...parts: (string | RegExp)[]) => (e: Error): boolean => {
  assert.ok(e instanceof FormatError, `not a FormatError: ${e.message}`);
  for (const p of parts) assert.ok(typeof p === 'string' ? e.message.includes(p) : p.test(e.message), `${e.message}\nlacks ${String(p)}`);
  assert.ok(e.message.includes(dir), e.message);
  return true;
};

test('a tensor whose shape disagrees with config.json is refused naming the tensor, the expected and the found shape', () => {
  const dir = folder();
  rewrite(dir, (w) => { w.get(K)!.dispose(); w.set(K, tensor(new Array(16).fill(0).map(() => new Array(8).fill(0.5)))); });
  assert.throws(() => loadPretrained(dir), refuses(dir, JSON.stringify(K), 'shape disagrees with', join(dir, 'config.json'), '[8, 16]', '[16, 8]', 'float32'));
  // A transposed square matrix cannot be told apart, but one extra row can.
  const other = folder();
  rewrite(other, (w) => { const e = w.get(EMBED)!; w.set(EMBED, tensor(new Array(65).fill(0).map(() => new Array(16).fill(0.1)))); e.dispose(); });
  assert.throws(() => loadPretrained(other), refuses(other, JSON.stringify(EMBED), '[64, 16]', '[65, 16]'));
});

test('a config.json that disagrees with its weights is refused the same way (vocab_size, intermediate_size, num_key_value_heads)', () => {
  for (const [key, value, name, want, found] of [
    ['vocab_size', 80, /"(model\.embed_tokens|lm_head)\.weight"/, '[80, 16]', '[64, 16]'],
    ['intermediate_size', 48, 'model.layers.0.mlp.down_proj.weight', '[16, 48]', '[16, 32]'],
    ['num_key_value_heads', 4, K, '[16, 16]', '[8, 16]'],
  ] as const) {
    const dir = folder();
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), [key]: value }));
    assert.throws(() => loadPretrained(dir), refuses(dir, typeof name === 'string' ? JSON.stringify(name) : name, want, found), key);
  }
});

test('an integer or boolean tensor where the model has a float parameter is refused naming both dtypes; float16 and float64 are cast', () => {
  for (const dtype of ['int32', 'int64', 'int8', 'uint8', 'bool'] as const) {
    const dir = folder();
    rewrite(dir, (w) => { const t = w.get(K)!; w.set(K, t.to(dtype)); t.dispose(); });
    assert.throws(() => loadPretrained(dir, { dtype: 'auto' }), refuses(dir, JSON.stringify(K), 'dtype disagrees with', 'a floating-point dtype (loaded as bfloat16)', `the file holds ${dtype} of shape [8, 16]`), dtype);
  }
  // Shape and dtype both wrong: both named.
  const both = folder();
  rewrite(both, (w) => { w.get(K)!.dispose(); w.set(K, fromBuffer(Buffer.alloc(4 * 16 * 16), { dtype: 'int32', shape: [16, 16] })); });
  assert.throws(() => loadPretrained(both), refuses(both, 'shape and dtype disagree', '[8, 16]', 'int32 of shape [16, 16]'));
  // Another floating precision than torch_dtype says is cast, and the model loads with the same values.
  const dir = folder();
  const before = loadPretrained(dir);
  const want = before.model.stateDict().get(K)!.toTypedArray() as Float32Array;
  for (const dtype of ['float64', 'bfloat16'] as const) {
    rewrite(dir, (w) => { const t = w.get(K)!; w.set(K, t.to(dtype)); t.dispose(); });
    const m = loadPretrained(dir).model;
    const got = m.stateDict().get(K)!;
    assert.equal(got.dtype, 'float32');
    const vals = got.toTypedArray() as Float32Array;
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(vals[i]! - want[i]!) <= 1e-2 * Math.abs(want[i]!) + 1e-6, `${dtype} ${i}`);
    m.dispose();
  }
  before.model.dispose();
});

test("sharded folders are checked per tensor across shards, before that shard's tensor bytes are read", () => {
  const dir = folder({ maxShardSize: 2000 });
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
  const shards = [...new Set(Object.values(index.weight_map))];
  assert.ok(shards.length > 2, shards.join());
  const last = shards[shards.length - 1]!;
  const name = Object.keys(index.weight_map).find((k) => index.weight_map[k] === last)!;
  const file = join(dir, last);
  const w = loadSafetensors(file);
  const t = w.get(name)!;
  w.set(name, t.to('int64'));
  t.dispose();
  saveSafetensors(file, w);
  for (const x of w.values()) x.dispose();
  assert.throws(() => loadPretrained(dir), refuses(dir, JSON.stringify(name), last, 'int64'));
});

const ggufSource = new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;
/** The GGUF fixture rewritten with some numeric metadata values changed. */
function ggufWith(values: Record<string, number>): string {
  const g = readGguf(ggufSource);
  const metadata = { ...g.metadata };
  for (const [k, v] of Object.entries(values)) metadata[k] = { ...metadata[k]!, value: v } as (typeof metadata)[string];
  const out = join(tmpDir('bfpo-wcheck-'), 'model.gguf');
  writeGguf(out, { metadata, tensors: Object.fromEntries(g.tensors.map((t) => [t.name, { type: t.type, shape: t.shape, data: readGgufTensorBytes(g, t.name) }])) });
  return out;
}

test('a GGUF header asking for absurd sizes is refused before the model is allocated, naming the GGUF field', () => {
  for (const [key, value] of [['llama.block_count', 1e6], ['llama.embedding_length', 2 ** 31], ['llama.context_length', 2 ** 31],
    ['llama.attention.head_count', 1e5], ['llama.feed_forward_length', 2 ** 31]] as const) {
    const out = ggufWith({ [key]: value });
    assert.throws(() => loadPretrained(out), refuses(out, JSON.stringify(key), String(value), 'refuses'), key);
  }
  // A tensor whose dimensions claim 10^12 rows (the vocabulary when the file has no token list) is larger than the file.
  const out = ggufWith({});
  const bytes = readFileSync(out);
  const at = bytes.indexOf(Buffer.from('token_embd.weight')) + 'token_embd.weight'.length;
  assert.equal(bytes.readUInt32LE(at), 2);
  bytes.writeBigUInt64LE(10n ** 12n, at + 4 + 8);
  writeFileSync(out, bytes);
  assert.throws(() => loadPretrained(out), refuses(out, '"token_embd.weight"', /outside the file|larger than the file/));
});

test('a GGUF file whose tensors disagree with its own header metadata is refused naming the tensor', () => {
  const src = ggufSource;
  const out = ggufWith({ 'llama.feed_forward_length': Number(readGguf(src).metadata['llama.feed_forward_length']!.value) * 2 });
  assert.throws(() => loadPretrained(out), refuses(out, 'mlp', 'shape disagrees', 'header'));
  const ok = loadPretrained(src);
  assert.equal(ok.config.numHiddenLayers, 1);
  ok.model.dispose();
});
