import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ggufToHfFolder, hfFolderToGguf, loadTokenizer } from 'bfpo';
import { readGguf, readGgufTensorBytes, findHfFolder } from 'bfpo/io';
import { tmpDir } from './tmp-dir.js';

const tiny = new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;

test('GGUF -> HF folder -> GGUF gives back the same tensor bytes and a tokenizer with the same ids', () => {
  const dir = tmpDir('bfpo-convert-');
  const files = ggufToHfFolder(tiny, join(dir, 'hf'));
  assert.deepEqual(files, ['model.safetensors', 'config.json', 'tokenizer.json', 'tokenizer_config.json']);
  const folder = findHfFolder(join(dir, 'hf'));
  assert.equal(folder.config.num_attention_heads, 2);
  const tok = loadTokenizer(join(dir, 'hf'));
  assert.deepEqual(tok.encode('Hello world'), [1, 15043, 3186]);
  const out = join(dir, 'back.gguf');
  hfFolderToGguf(join(dir, 'hf'), out, { fileType: 'F16' });
  const a = readGguf(tiny);
  const b = readGguf(out);
  for (const t of a.tensors) {
    const u = b.tensors.find((x) => x.name === t.name)!;
    assert.deepEqual([u.shape, u.type], [t.shape, t.type], t.name);
    assert.ok(readGgufTensorBytes(b, t.name).equals(readGgufTensorBytes(a, t.name)), t.name);
  }
  for (const key of ['tokenizer.ggml.tokens', 'tokenizer.ggml.token_type', 'llama.attention.head_count_kv', 'llama.block_count', 'tokenizer.ggml.bos_token_id']) {
    assert.deepEqual(b.metadata[key], a.metadata[key], key);
  }
  const config = JSON.parse(readFileSync(join(dir, 'hf', 'config.json'), 'utf8'));
  assert.equal(config.architectures[0], 'LlamaForCausalLM');
});
