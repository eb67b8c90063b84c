// An ollama Modelfile for a GGUF export: FROM the file, the chat template as an ollama TEMPLATE, the stop token.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeAtomic } from './atomic.js';
import { ZEPHYR_CHAT_TEMPLATE } from './chat-template.js';
import { type Tokenizer, loadTokenizer } from './tokenizer.js';

/** Zephyr's template in ollama's Go template syntax (the same text, turn by turn, as the Jinja original). */
const ZEPHYR_GO_TEMPLATE =
  '{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}{{ "EOS" }}\n{{ end }}<|assistant|>\n';

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * The Modelfile text for `ggufPath` (referred to by file name, so keep them side by side). Zephyr's template is
 * written as a TEMPLATE; any other Jinja template travels inside the GGUF (`tokenizer.chat_template`), from which
 * ollama picks its template.
 * @example writeFileSync('model.Modelfile', ollamaModelfile('model.gguf', tokenizer));
 */
export function ollamaModelfile(ggufPath: string, tokenizer: Tokenizer | null): string {
  const lines = [`# ollama create NAME -f ${basename(ggufPath).replace(/\.gguf$/, '')}.Modelfile`, `FROM ./${basename(ggufPath)}`];
  if (tokenizer) {
    const source = tokenizer.chatTemplate.source;
    const eos = tokenizer.eosToken;
    if (source === ZEPHYR_CHAT_TEMPLATE && eos !== undefined) {
      lines.push(`TEMPLATE """${ZEPHYR_GO_TEMPLATE.replace('{{ "EOS" }}', eos)}"""`);
    } else if (tokenizer.hasOwnChatTemplate) {
      lines.push('# The chat template the model was trained with is stored in the GGUF (tokenizer.chat_template).');
    }
    if (eos !== undefined) lines.push(`PARAMETER stop ${quote(eos)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `<name>.Modelfile` beside `ggufPath` for the model folder `folder` was exported from; returns its path. */
export function writeModelfileBeside(ggufPath: string, folder: string): string {
  const tokenizer = existsSync(join(folder, 'tokenizer.json')) ? loadTokenizer(folder) : null;
  const path = ggufPath.replace(/\.gguf$/, '') + '.Modelfile';
  writeAtomic(path, (out) => out.write(Buffer.from(ollamaModelfile(ggufPath, tokenizer))));
  return path;
}
