// `bfpo train recipes/tiny-cpu.yaml` end to end (a few steps): the output folder is a loadable HF model folder,
// a rerun resumes, and a rerun with another learning rate is refused.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { loadCausalLM, loadFolderTokenizer } from '../../src/cli/hf-model.js';
import { noGrad, tensor } from '../../src/index.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'bfpo-e2e-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ err: string; code: number | undefined }> {
  const cwd = process.cwd();
  const write = process.stderr.write.bind(process.stderr);
  const error = console.error;
  let err = '';
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  console.error = (...a: unknown[]) => { err += `${a.join(' ')}\n`; };
  process.chdir(root);
  process.exitCode = undefined;
  try {
    await main(args);
    return { err, code: process.exitCode as number | undefined };
  } finally {
    process.chdir(cwd);
    process.stderr.write = write;
    console.error = error;
    process.exitCode = undefined;
  }
}

const common = [`--output_dir=${join(dir, 'out')}`, `--reference_cache_dir=${join(dir, 'cache')}`, '--num_train_epochs=1',
  '--max_steps=3', '--save_steps=2', '--eval_steps=2', '--logging_steps=1', '--per_device_train_batch_size=4'];

test('bfpo train on the tiny recipe writes checkpoints and a loadable model folder, and resumes or refuses', async () => {
  const first = await run(['train', 'recipes/tiny-cpu.yaml', ...common]);
  assert.equal(first.code, undefined, first.err);
  assert.match(first.err, /reference log-probs of the train data computed and stored in/);
  const out = join(dir, 'out');
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'log.jsonl', 'train_results.json']) assert.ok(existsSync(join(out, f)), f);
  assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('checkpoint-')).sort(), ['checkpoint-2', 'checkpoint-3']);
  assert.ok(existsSync(join(out, 'checkpoint-2', 'model.safetensors')), 'a checkpoint is itself a model folder');
  const model = loadCausalLM(out, null);
  const tok = loadFolderTokenizer(out);
  const ids = tok.encode('How do I bake bread?');
  const logits = noGrad(() => model.forward(tensor([ids], { dtype: 'int64' })).logits);
  assert.deepEqual(logits.shape, [1, ids.length, 259]);
  logits.dispose();
  model.dispose();
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.some((l) => 'eval_rewards/margins' in l));

  const again = await run(['train', 'recipes/tiny-cpu.yaml', ...common, '--learning_rate=0.01']);
  assert.equal(again.code, 1);
  assert.match(again.err, /holds checkpoints of another run .* learning_rate: 0.003 there, 0.01 now/);

  rmSync(join(out, 'checkpoint-3'), { recursive: true });
  const resumed = await run(['train', 'recipes/tiny-cpu.yaml', ...common]);
  assert.equal(resumed.code, undefined, resumed.err);
  assert.match(resumed.err, /Resuming from .*checkpoint-2 at step 2 of 3/);
  assert.match(resumed.err, /reference log-probs of the train data read from/);
});
