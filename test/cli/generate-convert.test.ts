// bfpo generate and bfpo convert on the tiny Llama-2 GGUF fixture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ArgumentError, generate, inferenceMode, loadPretrained, tensor, tidy } from 'bfpo';
import { generateCommand } from '../../src/cli/generate.js';
import { convertCommand } from '../../src/cli/convert.js';
import { tmpDir } from '../io/tmp-dir.js';

const gguf = new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;

test('generate applies the chat template, streams the answer and equals greedy generation', async () => {
  let streamed = '';
  const answer = await generateCommand(['--model', gguf, '--prompt', 'Hello there', '--max-new-tokens', '12'], (s) => { streamed += s; });
  assert.equal(streamed, `${answer}\n`);
  const { model, tokenizer } = loadPretrained(gguf);
  const ids = tokenizer!.applyChatTemplate([{ role: 'user', content: 'Hello there' }], { addGenerationPrompt: true, tokenize: true }) as number[];
  const direct = tidy(() => generate(model, [ids], { maxNewTokens: 12, eosTokenIds: [tokenizer!.eosTokenId] }));
  assert.equal(answer, tokenizer!.decode(direct.sequences[0], { skipSpecialTokens: true }));
  assert.ok(answer.length > 0);
});

test('generate refuses bad options by name', async () => {
  await assert.rejects(generateCommand(['--prompt', 'x']), /Expected a model folder or \.gguf file for --model/);
  await assert.rejects(generateCommand(['--model', gguf]), /for --prompt/);
  await assert.rejects(generateCommand(['--model', gguf, '--prompt', 'x', '--temperature=-1']), (e: Error) => e instanceof ArgumentError && /Expected a number >= 0 for --temperature/.test(e.message));
  await assert.rejects(generateCommand(['--model', gguf, '--prompt', 'x', '--top-k', '1.5']), /for --top-k/);
});

test('convert goes GGUF -> folder -> GGUF and the models agree', () => {
  const dir = tmpDir('bfpo-convert-');
  const folder = join(dir, 'tiny');
  const logs: string[] = [];
  convertCommand([gguf, folder], (s) => logs.push(s));
  assert.ok(readdirSync(folder).includes('model.safetensors'));
  const back = join(dir, 'tiny-q8.gguf');
  convertCommand([folder, back, '--type', 'q8_0'], (s) => logs.push(s));
  assert.ok(existsSync(back));
  assert.match(logs.join('\n'), /wrote .*tiny-q8\.gguf \(Q8_0\)/);
  const logits = (path: string) => inferenceMode(() => tidy(() =>
    Array.from(loadPretrained(path).model.forward(tensor([[1, 15043, 3186]])).logits.toTypedArray() as Float32Array)));
  const a = logits(gguf);
  const b = logits(folder);
  assert.deepEqual(b, a);
  // Q8_0 quantises the weights: close, not equal.
  const c = logits(back);
  const maxDiff = Math.max(...a.map((v, i) => Math.abs(v - c[i])));
  assert.ok(maxDiff > 0 && maxDiff < 0.05, `Q8_0 logits differ by ${maxDiff}`);
});

test('convert refuses bad arguments', () => {
  assert.throws(() => convertCommand([gguf]), /Expected INPUT and OUTPUT/);
  assert.throws(() => convertCommand(['nope', 'x.gguf']), /Expected an existing folder or \.gguf file \(or a model in the Hugging Face cache .*\) for INPUT/);
  const dir = tmpDir('bfpo-convert-');
  convertCommand([gguf, join(dir, 'f')], () => {});
  assert.throws(() => convertCommand([join(dir, 'f'), join(dir, 'out.bin')]), /Expected a path ending in \.gguf for OUTPUT/);
  assert.throws(() => convertCommand([join(dir, 'f'), join(dir, 'o.gguf'), '--type', 'q4']), /Expected one of f32, f16, q8_0 for --type/);
});
