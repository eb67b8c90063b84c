// `bfpo generate`: chat with a model from the command line; the answer streams to stdout as it is produced.
import { parseOptions } from './options.js';
import { generate } from '../models/generate.js';
import { loadPretrained } from '../models/pretrained.js';
import { tidy } from '../tensor/index.js';
import type { DType } from '../tensor/dtype.js';
import { checkDeviceSetting, resolveDevice } from '../tensor/device.js';
import { ArgumentError, expected } from '../errors.js';
import type { ChatMessage } from '../io/chat-template.js';
import { CONTENT_SPECIAL_TOKENS, type ContentSpecialTokens } from '../io/content-guard.js';
import { missingTemplateWarning } from '../io/tokenizer.js';

export const GENERATE_USAGE = 'bfpo generate --model PATH --prompt TEXT [options]';
export const GENERATE_HELP = [
  'Options:',
  '  --model PATH            a Hugging Face model folder, a .gguf file (with its tokenizer), a PEFT LoRA adapter folder\n                          or a repo id in the Hugging Face cache',
  '  --base PATH             the base model of an adapter folder (default: its adapter_config.json\'s)',
  '  --prompt TEXT           the user message (the chat template is applied, with the generation prompt)',
  '  --system TEXT           a system message before it',
  '  --raw                   send the prompt as plain text, without the chat template',
  '  --content-special-tokens text|special',
  '                          text (default): special-token strings in --prompt/--system stay plain text;',
  '                          special: they become the special tokens themselves',
  '  --max-new-tokens N      default 256',
  '  --temperature T         0 (default) decodes greedily; > 0 samples',
  '  --top-p P, --top-k K    nucleus and top-k filtering when sampling',
  '  --seed S                makes sampling repeatable (default 0)',
  '  --stop TEXT             ends the answer at this text (repeatable)',
  '  --dtype float32|bfloat16',
  '  --device D              auto (default: the first CUDA device when there is one, else cpu), cpu, cuda, cuda:N',
].join('\n');

function num(v: string | undefined, name: string, check: (n: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !check(n)) throw expected(what, name, v);
  return n;
}

/**
 * Runs `bfpo generate`; returns the answer (also written to `out` as it streams).
 * @example await generateCommand(['--model', 'models/tiny-bfpo', '--prompt', 'What is 2 + 3?']);
 */
export async function generateCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<string> {
  const { values } = parseOptions('bfpo generate', argv, {
      model: { type: 'string' }, prompt: { type: 'string' }, system: { type: 'string' }, raw: { type: 'boolean' },
      'max-new-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, 'top-k': { type: 'string' },
      seed: { type: 'string' }, base: { type: 'string' }, stop: { type: 'string', multiple: true }, dtype: { type: 'string' }, device: { type: 'string' },
      'content-special-tokens': { type: 'string' },
    });
  if (!values.model) throw expected('a model folder or .gguf file', '--model', values.model);
  if (values.prompt === undefined) throw expected('the text to answer', '--prompt', values.prompt);
  const maxNewTokens = num(values['max-new-tokens'], '--max-new-tokens', (n) => Number.isInteger(n) && n > 0, 'a positive integer') ?? 256;
  const temperature = num(values.temperature, '--temperature', (n) => n >= 0, 'a number >= 0') ?? 0;
  const topP = num(values['top-p'], '--top-p', (n) => n > 0 && n <= 1, 'a number in (0, 1]');
  const topK = num(values['top-k'], '--top-k', (n) => Number.isInteger(n) && n > 0, 'a positive integer');
  const seed = num(values.seed, '--seed', (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer') ?? 0;
  const contentMode = values['content-special-tokens'] ?? 'text';
  if (!(CONTENT_SPECIAL_TOKENS as readonly string[]).includes(contentMode)) {
    throw expected(CONTENT_SPECIAL_TOKENS.map((m) => JSON.stringify(m)).join(' or '), '--content-special-tokens', contentMode);
  }
  const { model, tokenizer } = loadPretrained(values.model, {
    dtype: values.dtype as DType | undefined, base: values.base, device: resolveDevice(checkDeviceSetting(values.device ?? 'auto', '--device'), '--device'),
  });
  try {
    if (!tokenizer) throw new ArgumentError(`${values.model} has no tokenizer (tokenizer.json or GGUF tokenizer metadata); bfpo generate needs one`);
    tokenizer.contentSpecialTokens = contentMode as ContentSpecialTokens;
    let ids: number[];
    if (values.raw) {
      ids = tokenizer.encode(values.prompt);
    } else {
      const warning = missingTemplateWarning(tokenizer, values.model);
      if (warning) process.stderr.write(`bfpo: ${warning}\n`);
      const messages: ChatMessage[] = [...(values.system ? [{ role: 'system', content: values.system } as ChatMessage] : []), { role: 'user', content: values.prompt }];
      ids = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, tokenize: true }) as number[];
    }
    const produced: number[] = [];
    let shown = '';
    const decode = (t: number[]): string => tokenizer.decode(t, { skipSpecialTokens: true });
    const result = tidy(() => generate(model, [ids], {
      maxNewTokens, seed, doSample: temperature > 0, temperature: temperature > 0 ? temperature : undefined, topP, topK,
      eosTokenIds: [tokenizer.eosTokenId], stopStrings: values.stop, decode,
      onStep: ({ tokens }) => {
        if (tokens[0] === null) return;
        produced.push(tokens[0]);
        const text = decode(produced);
        // Hold back a trailing replacement character: the next token may complete a multi-byte character.
        const stable = text.endsWith('\uFFFD') ? text.slice(0, -1) : text;
        if (stable.startsWith(shown) && stable.length > shown.length) {
          out(stable.slice(shown.length));
          shown = stable;
        }
      },
    }));
    const answer = result.texts?.[0] ?? decode(result.sequences[0]);
    if (answer.startsWith(shown) && answer.length > shown.length) out(answer.slice(shown.length));
    out('\n');
    return answer;
  } finally {
    model.dispose();
  }
}
