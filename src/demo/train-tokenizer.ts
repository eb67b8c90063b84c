// Trains a small byte-level BPE tokenizer on the demo corpus and writes it as a Hugging Face tokenizer folder
// (tokenizer.json + tokenizer_config.json with a chat template), so any HF-compatible loader reads it.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expected } from '../errors.js';

/** The GPT-2 pre-tokenization pattern that HF's ByteLevel pre-tokenizer uses (`use_regex: true`). */
const SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible map from bytes to printable characters (a space becomes 'Ġ', a newline 'Ċ'). */
export function byteToUnicode(): string[] {
  const printable = [...range(33, 126), ...range(161, 172), ...range(174, 255)];
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return table;
}
function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/** Special tokens of the demo tokenizer, in id order. */
export const DEMO_SPECIAL_TOKENS = { bos: '<s>', eos: '</s>', pad: '<pad>', system: '<|system|>', user: '<|user|>', assistant: '<|assistant|>' } as const;

/**
 * A Zephyr-style chat template (the format the original BFPO models use): every turn is `<|role|>\n` + content +
 * EOS + newline; the generation prompt is `<|assistant|>\n`. The template writes BOS itself, so training and
 * generation see the same first token whichever code renders it; an empty system message renders as nothing, so
 * a prompt reads the same whether or not a loader prepended one.
 */
export const DEMO_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{% if not (message['role'] == 'system' and message['content'] == '') %}" +
  "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

export interface TrainedTokenizer {
  /** token -> id, special tokens first, then the 256 byte symbols, then merged symbols. */
  vocab: Map<string, number>;
  /** Merges in priority order. */
  merges: [string, string][];
}

/**
 * Learns byte-level BPE merges from `texts` until the vocabulary has `vocabSize` entries (or no pair repeats).
 * Ties between equally frequent pairs break by the pair's text, so the result depends only on the corpus.
 *
 * @example
 * const tok = trainBpe(['What is 3 plus 4?', '3 plus 4 is 7.'], 300);
 */
export function trainBpe(texts: string[], vocabSize: number): TrainedTokenizer {
  const specials = Object.values(DEMO_SPECIAL_TOKENS);
  if (!(Number.isInteger(vocabSize) && vocabSize >= 256 + specials.length)) {
    throw expected(`an integer >= ${256 + specials.length} (special tokens + 256 bytes)`, 'vocabSize', vocabSize);
  }
  const bytes = byteToUnicode();
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const piece of text.match(SPLIT) ?? []) {
      const mapped = Array.from(encoder.encode(piece), (b) => bytes[b]).join('\u0000');
      counts.set(mapped, (counts.get(mapped) ?? 0) + 1);
    }
  }
  const words = [...counts].map(([w, n]) => ({ symbols: w.split('\u0000'), n }));
  const vocab = new Map<string, number>();
  for (const t of [...specials, ...bytes]) vocab.set(t, vocab.size);
  const merges: [string, string][] = [];
  while (vocab.size < vocabSize) {
    const best = bestPair(words);
    if (!best) break;
    const [a, b] = best;
    merges.push([a, b]);
    vocab.set(a + b, vocab.size);
    for (const w of words) w.symbols = mergeSymbols(w.symbols, a, b);
  }
  return { vocab, merges };
}

function bestPair(words: { symbols: string[]; n: number }[]): [string, string] | null {
  const pairs = new Map<string, number>();
  for (const { symbols, n } of words) {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = symbols[i] + '\u0000' + symbols[i + 1];
      pairs.set(key, (pairs.get(key) ?? 0) + n);
    }
  }
  let best: string | null = null;
  let bestCount = 1; // a pair seen once is not worth a token
  for (const [key, n] of pairs) {
    if (n > bestCount || (n === bestCount && best !== null && key < best)) {
      best = key;
      bestCount = n;
    }
  }
  return best === null ? null : (best.split('\u0000') as [string, string]);
}

function mergeSymbols(symbols: string[], a: string, b: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
      out.push(a + b);
      i++;
    } else {
      out.push(symbols[i]);
    }
  }
  return out;
}

/** The `tokenizer.json` object of a trained tokenizer (HF tokenizers format, BPE model, ByteLevel pre-tokenizer). */
export function tokenizerJson(tok: TrainedTokenizer): object {
  const added = Object.values(DEMO_SPECIAL_TOKENS).map((content) => ({
    id: tok.vocab.get(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: Object.fromEntries(tok.vocab), merges: tok.merges,
    },
  };
}

/** The `tokenizer_config.json` object: special tokens, the chat template, no automatic BOS. */
export function tokenizerConfigJson(maxLength: number): object {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: DEMO_SPECIAL_TOKENS.bos,
    eos_token: DEMO_SPECIAL_TOKENS.eos,
    pad_token: DEMO_SPECIAL_TOKENS.pad,
    unk_token: null,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: maxLength,
    chat_template: DEMO_CHAT_TEMPLATE,
  };
}

/**
 * Writes `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json` into `dir` (each through a
 * temporary file). Returns the special token ids.
 */
export function saveBpeTokenizer(tok: TrainedTokenizer, dir: string, { maxLength = 512 } = {}): { bos: number; eos: number; pad: number } {
  mkdirSync(dir, { recursive: true });
  const write = (name: string, value: object): void => {
    const path = join(dir, name);
    writeFileSync(`${path}.tmp-${process.pid}`, JSON.stringify(value, null, 2) + '\n');
    renameSync(`${path}.tmp-${process.pid}`, path);
  };
  write('tokenizer.json', tokenizerJson(tok));
  write('tokenizer_config.json', tokenizerConfigJson(maxLength));
  write('special_tokens_map.json', { bos_token: DEMO_SPECIAL_TOKENS.bos, eos_token: DEMO_SPECIAL_TOKENS.eos, pad_token: DEMO_SPECIAL_TOKENS.pad });
  const id = (t: string): number => tok.vocab.get(t) as number;
  return { bos: id(DEMO_SPECIAL_TOKENS.bos), eos: id(DEMO_SPECIAL_TOKENS.eos), pad: id(DEMO_SPECIAL_TOKENS.pad) };
}
