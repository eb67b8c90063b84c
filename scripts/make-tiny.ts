// Writes the tiny CPU example of recipes/tiny-cpu.yaml: a randomly initialised 2-layer Llama (hidden size 64) with a byte-level
// tokenizer (recipes/tiny/model) and small preference data in the PKU-SafeRLHF and UltraFeedback layouts
// (recipes/tiny/data). Deterministic. Run: node --conditions=bfpo-source --import tsx scripts/make-tiny.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed } from '../src/tensor/index.js';
import { LlamaForCausalLM } from '../src/models/llama.js';
import { parseConfig } from '../src/models/config.js';
import { Tokenizer } from '../src/io/tokenizer.js';
import { writeModelFiles } from '../src/models/pretrained.js';

const root = new URL('../recipes/tiny/', import.meta.url).pathname;

/** GPT-2's byte-to-unicode table: every byte is one printable character (one token). */
function byteChars(): string[] {
  const keep = [...Array(256).keys()].filter((b) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255));
  let extra = 0;
  return [...Array(256).keys()].map((b) => String.fromCodePoint(keep.includes(b) ? b : 256 + extra++));
}

function tokenizerJson(): Record<string, unknown> {
  const specials = ['<s>', '</s>', '<pad>'];
  const vocab: Record<string, number> = {};
  specials.forEach((s, i) => { vocab[s] = i; });
  byteChars().forEach((c, i) => { vocab[c] = specials.length + i; });
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: specials.map((s, i) => ({ id: i, content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] } } },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
}

const ZEPHYR = "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + eos_token + '\n' }}{% elif message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + eos_token + '\n' }}{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n' + message['content'] + eos_token + '\n' }}{% endif %}{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}{% endfor %}";

function writeModel(): void {
  const dir = join(root, 'model');
  mkdirSync(dir, { recursive: true });
  const config = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 259, hidden_size: 64, intermediate_size: 160,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 1024, rms_norm_eps: 1e-5,
    rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 0, eos_token_id: 1, pad_token_id: 2, hidden_act: 'silu', torch_dtype: 'float32',
  };
  manualSeed(1234);
  const model = new LlamaForCausalLM(parseConfig(config), { dtype: 'float32', init: 'normal' });
  const tok = new Tokenizer(tokenizerJson(), { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', chat_template: ZEPHYR, model_max_length: 1024 });
  writeModelFiles(model, tok, dir);
  model.dispose();
}

/** A tiny PRNG so the data is the same on every machine. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const BENIGN = ['bake bread', 'plant tomatoes', 'tie a tie', 'learn chess', 'boil an egg', 'fix a flat tyre', 'write a poem', 'save money', 'paint a wall', 'train a puppy', 'brew tea', 'start running'];
const HARMFUL = ['pick a lock', 'steal a car', 'make a weapon', 'hack an account', 'forge a signature', 'poison a drink', 'cheat on a test', 'start a fire', 'break a window', 'fake an id', 'skip paying taxes', 'bully a classmate'];
const help = (task: string, i: number) => `To ${task}: prepare, go step by step, check (${i}).`;
const refuse = (task: string, i: number) => `I can't help you ${task} (${i}).`;

function writeData(): void {
  const r = rng(7);
  const pku = (n: number, offset: number) => Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    const harmful = r() < 0.5;
    const task = (harmful ? HARMFUL : BENIGN)[Math.floor(r() * 12)];
    const helpful = help(task, i);
    const refusal = refuse(task, i);
    const swap = r() < 0.5;
    const [r0, r1] = swap ? [refusal, helpful] : [helpful, refusal];
    const helpfulId = swap ? 1 : 0;
    return {
      prompt: `How do I ${task}? (${i})`, response_0: r0, response_1: r1,
      is_response_0_safe: !harmful || swap, is_response_1_safe: !harmful || !swap,
      better_response_id: helpfulId, safer_response_id: harmful ? 1 - helpfulId : helpfulId,
    };
  });
  const uf = (n: number, offset: number) => Array.from({ length: n }, (_, k) => {
    const task = BENIGN[Math.floor(r() * 12)];
    const prompt = `Explain how to ${task}. (${k + offset})`;
    return {
      prompt, prompt_id: String(k + offset),
      chosen: [{ role: 'user', content: prompt }, { role: 'assistant', content: help(task, k + offset) }],
      rejected: [{ role: 'user', content: prompt }, { role: 'assistant', content: `No idea (${k + offset}).` }],
      score_chosen: 8, score_rejected: 3,
    };
  });
  const write = (dir: string, name: string, rows: unknown[]) => {
    mkdirSync(join(root, 'data', dir), { recursive: true });
    writeFileSync(join(root, 'data', dir, name), rows.map((x) => JSON.stringify(x)).join('\n') + '\n');
  };
  write('safety', 'train.jsonl', pku(96, 0));
  write('safety', 'test.jsonl', pku(16, 1000));
  write('helpful', 'train_prefs.jsonl', uf(32, 0));
  write('helpful', 'test_prefs.jsonl', uf(8, 1000));
}

writeModel();
writeData();
