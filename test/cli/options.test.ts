// One CLI style: --snake_case and --kebab-case name the same option, typos get the nearest option, errors are bfpo's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from 'bfpo';
import { main } from '../../src/cli/main.js';
import { generateCommand } from '../../src/cli/generate.js';
import { parseOptions } from '../../src/cli/options.js';
import { parseOverrides } from '../../src/recipe/recipe.js';

const gguf = new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;
const OPTS = { 'max-new-tokens': { type: 'string' }, 'top-p': { type: 'string' }, raw: { type: 'boolean' } } as const;

test('--snake_case and --kebab-case are the same option, with = or a separate value', () => {
  assert.deepEqual({ ...parseOptions('bfpo x', ['--max_new_tokens', '5', '--top_p=0.9', '--raw'], OPTS).values }, { 'max-new-tokens': '5', 'top-p': '0.9', raw: true });
  assert.deepEqual({ ...parseOptions('bfpo x', ['--max-new-tokens=5'], OPTS).values }, { 'max-new-tokens': '5' });
  assert.deepEqual(parseOverrides(['--max-steps=3', '--learning_rate', '0.1']), [['max_steps', '3'], ['learning_rate', '0.1']]);
});

test('a typo names the nearest option; other parse errors are ArgumentErrors naming the command', () => {
  assert.throws(() => parseOptions('bfpo generate', ['--max-new-token=5'], OPTS), (e: Error) =>
    e instanceof ArgumentError && /Unknown option --max-new-token for bfpo generate; did you mean --max-new-tokens\?/.test(e.message));
  assert.throws(() => parseOptions('bfpo generate', ['--zzzzzzzz'], OPTS), (e: Error) => /Unknown option --zzzzzzzz for bfpo generate \(see/.test(e.message));
  assert.throws(() => parseOptions('bfpo generate', ['--top-p'], OPTS), (e: Error) => e instanceof ArgumentError && /^Option '--top-p <value>' argument missing \(see bfpo generate --help\)/.test(e.message));
  assert.throws(() => parseOptions('bfpo generate', ['stray'], OPTS), (e: Error) => e instanceof ArgumentError && /^Unexpected argument 'stray'.* \(see bfpo generate --help\)$/.test(e.message));
});

test('bfpo generate --max_new_tokens works, and a typo exits 1 with a bfpo message instead of a Node error', async () => {
  let out = '';
  const a = await generateCommand(['--model', gguf, '--prompt', 'Hi', '--max_new_tokens', '3'], (s) => { out += s; });
  assert.equal(out, `${a}\n`);
  const error = console.error;
  let err = '';
  console.error = (s: string) => { err += s; };
  try {
    await main(['generate', '--model', gguf, '--prompt', 'Hi', '--max_new_tokns', '3']);
    assert.equal(process.exitCode, 1);
  } finally {
    console.error = error;
    process.exitCode = undefined;
  }
  assert.match(err, /^bfpo: Unknown option --max_new_tokns for bfpo generate; did you mean --max-new-tokens\?/);
});
