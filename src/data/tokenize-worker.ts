// Worker-thread side of tokenizePairs: builds its own tokenizer from a module, tokenizes chunks of pairs and
// sends the token ids back as transferable buffers.
import { parentPort, workerData } from 'node:worker_threads';
import { tokenizePair, type TokenizeOptions } from './tokenize.js';
import type { TextTokenizer } from './tokenizer.js';
import type { PreferenceExample } from './types.js';

interface Init { module: string; args: unknown; options: TokenizeOptions }

const init = workerData as Init;
const mod = (await import(init.module)) as { createTokenizer(args: unknown): TextTokenizer | Promise<TextTokenizer> };
const tok = await mod.createTokenizer(init.args);

parentPort!.on('message', (msg: { id: number; examples: PreferenceExample[] }) => {
  try {
    const pairs = msg.examples.map((ex) => tokenizePair(ex, tok, init.options));
    const buffers = pairs.flatMap((p) => [p.chosen.ids.buffer, p.rejected.ids.buffer]) as ArrayBuffer[];
    parentPort!.postMessage({ id: msg.id, pairs }, buffers);
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: (e as Error).message });
  }
});
