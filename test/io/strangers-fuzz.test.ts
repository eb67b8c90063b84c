// Files from strangers: config.json asking for absurd sizes, shard indexes naming files outside the folder, and
// seeded mutations of config, index and tokenizer files, which must load or fail with bfpo's own error naming the
// file. `npm run fuzz` runs the same with many more iterations (BFPO_FUZZ_ITERATIONS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BfpoError } from 'bfpo';
import { ConfigError, parseConfig } from 'bfpo/models';
import { FormatError, loadShardedSafetensors, loadTokenizer, readShardIndex } from 'bfpo/io';
import { CONFIG_LIMITS } from '../../src/models/config.js';
import { tmpDir } from './tmp-dir.js';
import { mutateJson, rng } from './rng.js';

const N = Number(process.env.BFPO_FUZZ_ITERATIONS) || 300;
const fixtures = new URL('../fixtures/io/', import.meta.url).pathname;

const tiny = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 32, hidden_size: 16, intermediate_size: 32,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-5, max_position_embeddings: 64,
  bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
};

test('a config.json asking for absurd sizes is refused before anything is allocated, naming the key', () => {
  for (const [key, value] of [['vocab_size', 1e12], ['num_hidden_layers', 1e6], ['hidden_size', 2 ** 40], ['intermediate_size', 2 ** 31],
    ['num_attention_heads', 1e5], ['max_position_embeddings', 2 ** 40], ['head_dim', 1e6]] as const) {
    assert.throws(() => parseConfig({ ...tiny, [key]: value }), (e: Error) => e instanceof ConfigError && e.message.includes(key) && e.message.includes(String(value)), key);
  }
  // Each size within its bound, the product beyond 10^12 parameters.
  assert.throws(() => parseConfig({ ...tiny, vocab_size: 4_000_000, hidden_size: 131072, intermediate_size: 1 << 20, num_attention_heads: 1024, num_key_value_heads: 1024, num_hidden_layers: 1000 }),
    (e: Error) => e instanceof ConfigError && /parameters/.test(e.message) && /num_hidden_layers 1000/.test(e.message));
  assert.equal(parseConfig({ ...tiny, vocab_size: CONFIG_LIMITS.vocab_size }).vocabSize, CONFIG_LIMITS.vocab_size);
});

const hostile: unknown[] = [1e12, -1, 0, 1.5, 2 ** 53, '32', null, [], {}, true, 'NaN', 1e308, -0];
test(`${N} seeded mutations of config.json parse or throw ConfigError; parsed sizes stay within bounds`, () => {
  const rand = rng(99);
  const keys = Object.keys(tiny).concat(['head_dim', 'rope_scaling', 'tie_word_embeddings', 'sliding_window', 'layer_types', 'torch_dtype']);
  const text = JSON.stringify(tiny);
  const outcome = { parsed: 0, refused: 0 };
  for (let i = 0; i < N; i++) {
    let input: unknown;
    if (i % 3 === 2) {
      const bytes = Buffer.from(text);
      for (let h = 0; h < 1 + Math.floor(rand() * 3); h++) bytes[Math.floor(rand() * bytes.length)] = '0123456789[]{}",:-.e'.charCodeAt(Math.floor(rand() * 20));
      // Byte flips that keep valid JSON reach the parser; the others are the JSON reader's to refuse.
      try { input = JSON.parse(bytes.toString('latin1')); } catch { input = bytes.toString('latin1'); }
    } else if (i % 3 === 1) {
      input = mutateJson({ ...tiny, rope_scaling: { rope_type: 'linear', factor: 2 }, layer_types: ['full_attention', 'sliding_attention'], sliding_window: 8 }, rand);
    } else {
      const c: Record<string, unknown> = { ...tiny };
      for (let h = 0; h < 1 + Math.floor(rand() * 3); h++) {
        const k = keys[Math.floor(rand() * keys.length)]!;
        if (rand() < 0.2) delete c[k];
        else c[k] = hostile[Math.floor(rand() * hostile.length)];
      }
      input = c;
    }
    try {
      const cfg = parseConfig(input);
      for (const [k, v] of [['vocab_size', cfg.vocabSize], ['hidden_size', cfg.hiddenSize], ['num_hidden_layers', cfg.numHiddenLayers]] as const) {
        assert.ok(v >= 1 && v <= CONFIG_LIMITS[k]!, `${k} ${v}`);
      }
      outcome.parsed++;
    } catch (err) {
      assert.ok(err instanceof ConfigError, `case ${i} threw ${String(err)}`);
      outcome.refused++;
    }
  }
  assert.ok(outcome.refused > N / 3 && outcome.parsed > 0, JSON.stringify(outcome));
});

function shardFolder(): string {
  const dir = tmpDir('bfpo-shards-');
  copyFileSync(join(fixtures, 'mixed.safetensors'), join(dir, 'model-00001-of-00001.safetensors'));
  return dir;
}
const firstTensor = (): string => Object.keys(JSON.parse(readFileSync(join(fixtures, 'mixed.json'), 'utf8')))[0]!;

test('a shard index naming files outside its folder is refused: ../, absolute paths, links out', () => {
  const dir = shardFolder();
  const name = firstTensor();
  const index = join(dir, 'model.safetensors.index.json');
  for (const shard of ['../model.safetensors', '/etc/passwd', 'sub/../../x.safetensors', '..', '.', '', 'C:\\x.safetensors', 'a\0b', 7, null]) {
    writeFileSync(index, JSON.stringify({ weight_map: { [name]: shard } }));
    assert.throws(() => readShardIndex(index), (e: Error) => e instanceof FormatError && e.message.startsWith(index) && e.message.includes(name), String(shard));
  }
  const outside = tmpDir('bfpo-outside-');
  copyFileSync(join(fixtures, 'mixed.safetensors'), join(outside, 'secret.safetensors'));
  symlinkSync(join(outside, 'secret.safetensors'), join(dir, 'linked.safetensors'));
  writeFileSync(index, JSON.stringify({ weight_map: { [name]: 'linked.safetensors' } }));
  assert.throws(() => loadShardedSafetensors(dir), (e: Error) => e instanceof FormatError && /outside the model folder/.test(e.message));
  // A Hugging Face hub cache snapshot links its files into the repository's blobs folder: that is allowed.
  const repo = tmpDir('bfpo-hub-');
  mkdirSync(join(repo, 'blobs'));
  mkdirSync(join(repo, 'snapshots', 'abc'), { recursive: true });
  copyFileSync(join(fixtures, 'mixed.safetensors'), join(repo, 'blobs', '1234'));
  symlinkSync('../../blobs/1234', join(repo, 'snapshots', 'abc', 'model-00001-of-00001.safetensors'));
  writeFileSync(join(repo, 'snapshots', 'abc', 'model.safetensors.index.json'), JSON.stringify({ weight_map: { [name]: 'model-00001-of-00001.safetensors' } }));
  const w = loadShardedSafetensors(join(repo, 'snapshots', 'abc'));
  assert.ok(w.has(name));
  for (const t of w.values()) t.dispose();
});

test(`${N} seeded mutations of a shard index load or throw FormatError naming the index`, () => {
  const dir = shardFolder();
  const names = Object.keys(JSON.parse(readFileSync(join(fixtures, 'mixed.json'), 'utf8')));
  const text = JSON.stringify({ metadata: { total_size: 1 }, weight_map: Object.fromEntries(names.map((n) => [n, 'model-00001-of-00001.safetensors'])) });
  const index = join(dir, 'model.safetensors.index.json');
  const rand = rng(7);
  const outcome = { loaded: 0, refused: 0 };
  for (let i = 0; i < N; i++) {
    const bytes = Buffer.from(text);
    for (let h = 0; h < 1 + Math.floor(rand() * 4); h++) bytes[Math.floor(rand() * bytes.length)] = './\\0123456789[]{}",:-.e'.charCodeAt(Math.floor(rand() * 23));
    // Every other case keeps the JSON valid and mutates its structure instead of its bytes.
    writeFileSync(index, i % 2 === 1 ? JSON.stringify(mutateJson(JSON.parse(text), rand)) : i % 5 === 0 ? bytes.subarray(0, Math.floor(rand() * bytes.length)) : bytes);
    try {
      const w = loadShardedSafetensors(dir);
      for (const t of w.values()) t.dispose();
      outcome.loaded++;
    } catch (err) {
      assert.ok(err instanceof FormatError, `case ${i} threw ${String(err)}`);
      assert.ok(err.message.includes(dir), err.message);
      outcome.refused++;
    }
  }
  assert.ok(outcome.refused > N / 3, JSON.stringify(outcome));
});

const TOKENIZERS: [string, string][] = [
  ['wordlevel', join(fixtures, 'wordlevel')], ['unigram', join(fixtures, 'unigram')], ['wordpiece', join(fixtures, 'wordpiece')],
  ['byte-level BPE with a chat template', new URL('../../recipes/tiny/model/', import.meta.url).pathname],
];
for (const [kind, src] of TOKENIZERS) {
  test(`${N} seeded mutations of a ${kind} tokenizer.json and tokenizer_config.json load or throw bfpo's error naming the file`, () => {
    const files = ['tokenizer.json', 'tokenizer_config.json'];
    const texts = files.map((f) => readFileSync(join(src, f)));
    const dir = tmpDir('bfpo-tokfuzz-');
    const rand = rng(kind.length);
    const outcome = { loaded: 0, refused: 0 };
    for (let i = 0; i < N; i++) {
      const which = i % 4 === 3 ? 1 : 0;
      files.forEach((f, j) => writeFileSync(join(dir, f), texts[j]!));
      const bytes = Buffer.from(texts[which]!);
      // Byte flips and truncations test the JSON reading; structural mutations (valid JSON) test what is read from it.
      if (i % 2 === 1) writeFileSync(join(dir, files[which]!), JSON.stringify(mutateJson(JSON.parse(bytes.toString('utf8')), rand)));
      else if (i % 5 === 0) writeFileSync(join(dir, files[which]!), bytes.subarray(0, Math.floor(rand() * bytes.length)));
      else {
        for (let h = 0; h < 1 + Math.floor(rand() * 4); h++) bytes[Math.floor(rand() * bytes.length)] = '0123456789[]{}",:-.e'.charCodeAt(Math.floor(rand() * 20));
        writeFileSync(join(dir, files[which]!), bytes);
      }
      try {
        const tok = loadTokenizer(dir);
        tok.decode(tok.encode('hello world </s> <|im_end|>'));
        if (tok.eosToken !== undefined) tok.applyChatTemplate([{ role: 'user', content: 'hi </s>' }], { addGenerationPrompt: true, tokenize: true });
        outcome.loaded++;
      } catch (err) {
        assert.ok(err instanceof BfpoError, `case ${i} (${files[which]}) threw ${String(err)}`);
        assert.ok(err.message.includes(dir) || /chat template|token/i.test(err.message), err.message);
        outcome.refused++;
      }
    }
    assert.ok(outcome.refused > 0 && outcome.loaded > 0, JSON.stringify(outcome));
  });
}
