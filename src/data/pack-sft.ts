// SFT packing as the original's SFT stage: every conversation becomes BOS + its chat-template text + EOS, the texts
// are concatenated in data order and cut into blocks of exactly `blockSize` tokens, each with the loss on every token.
import { expected } from '../errors.js';
import type { TokenizedSft } from './tokenize-sft.js';
import { runStepsBatched } from './encode-batched.js';
import { runSteps, type BatchTextEncoder, type EncodeSteps, type TextTokenizer } from './tokenizer.js';
import type { ExampleSource, SftExample } from './types.js';

/** A packed block: `source` is its first conversation; `sources` every conversation whose tokens it holds, in order. */
export interface PackedSftBlock extends TokenizedSft {
  sources: ExampleSource[];
}

/** What packing produced and dropped. */
export interface PackedSft {
  blocks: PackedSftBlock[];
  /** Tokens of all conversations, BOS and EOS included. */
  tokens: number;
  /** Tokens after the last full block, which do not train (the original drops them as well). */
  droppedTokens: number;
}

/**
 * The token ids of one conversation as the original's packer sees it: BOS (when the tokenizer has one), the chat
 * template's text of the whole conversation (no generation prompt), then EOS.
 */
export function packedConversationIds(ex: SftExample, tok: TextTokenizer): number[] {
  return runSteps(packedConversationSteps(ex, tok), tok);
}

/** The steps of {@link packedConversationIds} (see `EncodeSteps`), for batch encoders. */
export function* packedConversationSteps(ex: SftExample, tok: TextTokenizer): EncodeSteps<number[]> {
  const [ids] = yield [tok.applyChatTemplate(ex.messages, { addGenerationPrompt: false })];
  return [...(tok.bosTokenId !== null ? [tok.bosTokenId] : []), ...ids!, tok.eosTokenId];
}

/**
 * Packs conversations into fixed blocks of `blockSize` tokens (the original's `max_seq_length`, 2048 in its recipe).
 * The last, incomplete block is dropped; a conversation may span blocks.
 *
 * @example
 * const { blocks } = packSft(mix.train, tokenizer, { blockSize: 2048 });
 * blocks[0].ids.length // 2048; blocks[0].learn is all ones
 */
export function packSft(examples: readonly SftExample[], tok: TextTokenizer, opts: { blockSize: number }): PackedSft {
  checkBlockSize(opts.blockSize);
  return packIds(examples, examples.map((ex) => packedConversationIds(ex, tok)), opts);
}

/** {@link packSft} with the conversations' texts encoded by `encoder` in groups (the same blocks). */
export async function packSftBatched(examples: readonly SftExample[], tok: TextTokenizer, opts: { blockSize: number }, encoder: BatchTextEncoder,
  progress?: (done: number, total: number) => void): Promise<PackedSft> {
  checkBlockSize(opts.blockSize);
  return packIds(examples, await runStepsBatched(examples, (ex) => packedConversationSteps(ex, tok), encoder, { onProgress: progress }), opts);
}

function checkBlockSize(size: number): void {
  if (!Number.isInteger(size) || size < 2) throw expected('an integer ≥ 2', 'blockSize', size);
}

/** Cuts the conversations' ids (`all[i]` of `examples[i]`), concatenated in order, into blocks. */
function packIds(examples: readonly SftExample[], all: number[][], opts: { blockSize: number }): PackedSft {
  const size = opts.blockSize;
  const blocks: PackedSftBlock[] = [];
  let buf = new Int32Array(size);
  let fill = 0;
  let sources: ExampleSource[] = [];
  let tokens = 0;
  for (const [i, ex] of examples.entries()) {
    const ids = all[i]!;
    tokens += ids.length;
    let at = 0;
    while (at < ids.length) {
      if (sources[sources.length - 1] !== ex.source) sources.push(ex.source);
      const take = Math.min(size - fill, ids.length - at);
      buf.set(ids.slice(at, at + take), fill);
      fill += take;
      at += take;
      if (fill === size) {
        blocks.push({ ids: buf, learn: new Uint8Array(size).fill(1), source: sources[0]!, sources });
        buf = new Int32Array(size);
        fill = 0;
        sources = [];
      }
    }
  }
  return { blocks, tokens, droppedTokens: fill };
}
