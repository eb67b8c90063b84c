// `bfpo train|sft --dry-run`: the resolved recipe, data counts and memory estimate, with no weights read and nothing
// written to output_dir; a checkpoint of another run in output_dir is reported before any data is read.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMain } from './run-main.js';
import { prepareRecipe } from '../../src/recipe/prepare.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'bfpo-dry-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The tiny model with weights that cannot load: a dry run must not need them.
const model = join(dir, 'model');
cpSync(join(root, 'recipes/tiny/model'), model, { recursive: true });
writeFileSync(join(model, 'model.safetensors'), 'not a safetensors file');
const out = join(dir, 'out');
const args = ['recipes/tiny-cpu.yaml', `--model_name_or_path=${model}`, `--output_dir=${out}`, '--tokenized_cache=false', '--dry-run'];

/** runMain with the text written to stdout captured too (the test runner's own binary messages pass through). */
async function dry(argv: string[]): Promise<{ out: string; err: string; code: number | undefined }> {
  const write = process.stdout.write.bind(process.stdout);
  let text = '';
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => {
    if (typeof s !== 'string') return write(s, ...rest);
    text += s;
    return true;
  }) as typeof process.stdout.write;
  try {
    const r = await runMain(argv, root);
    return { out: text, ...r };
  } finally {
    process.stdout.write = write;
  }
}

test('train --dry-run prints the resolved recipe, the data counts and the memory estimate, and writes nothing', async () => {
  const r = await dry(['train', ...args, '--learning_rate=0.01']);
  assert.equal(r.code, undefined, r.err);
  assert.match(r.out, /^learning_rate: 0\.01$/m);
  assert.match(r.out, /^lr_scheduler_type: cosine$/m);
  assert.match(r.out, /^warmup_steps: 0$/m, 'defaults are shown too');
  assert.match(r.out, new RegExp(`^model_name_or_path: ${model}$`, 'm'));
  assert.match(r.out, /^# train: 96 pairs in 12 batches$/m);
  assert.match(r.out, /^# buffer: 32 pairs in 4 batches$/m);
  assert.match(r.out, /^# parameters 119,488, trainable 119,488$/m);
  for (const t of ['weights', 'gradients', 'optimizer states', 'reference copy', 'activations', 'total']) assert.match(r.out, new RegExp(`^# ${t} +\\d+\\.\\d\\d GiB`, 'm'), t);
  assert.ok(!existsSync(out), 'output_dir is not created');

  const sft = await dry(['sft', ...args, '--use_buffer=false']);
  assert.equal(sft.code, undefined, sft.err);
  assert.match(sft.out, /^max_seq_length: 2048$/m);
  assert.doesNotMatch(sft.out, /^beta:/m, 'sft shows no loss keys');
  assert.ok(!existsSync(out));
});

test('--dry-run reports a checkpoint of another run in output_dir before reading the data; the same run would resume', async () => {
  const settings = prepareRecipe('preference', args.filter((a) => a !== '--dry-run'));
  const ckpt = join(out, 'checkpoint-2');
  mkdirSync(ckpt, { recursive: true });
  writeFileSync(join(ckpt, 'trainer_state.json'), '{"step": 2}');
  writeFileSync(join(ckpt, 'run_config.json'), JSON.stringify({ ...settings.trainer.runConfig, learning_rate: 0.01 }));
  const r = await dry(['train', ...args]);
  assert.equal(r.code, 1);
  assert.match(r.err, /^bfpo: The output folder holds checkpoints of another run .*learning_rate: 0\.01 there, 0\.003 now/m);
  assert.equal(r.out, '');
  assert.doesNotMatch(r.err, /pairs/, 'no data was read');

  writeFileSync(join(ckpt, 'run_config.json'), JSON.stringify(settings.trainer.runConfig));
  const ok = await dry(['train', ...args]);
  assert.equal(ok.code, undefined, ok.err);
  assert.match(ok.out, new RegExp(`^# Would resume from ${ckpt}$`, 'm'));
  rmSync(out, { recursive: true });
});

test('--dry-run with --nproc_per_node estimates per rank: sharding: optimizer splits the optimizer states', async () => {
  const one = await dry(['train', ...args]);
  const two = await dry(['train', ...args, '--nproc_per_node=2', '--sharding=optimizer']);
  assert.equal(one.code, undefined, one.err);
  assert.equal(two.code, undefined, two.err);
  assert.match(two.out, /# .*2 ranks, sharding optimizer \(per rank\)/);
  assert.doesNotMatch(one.out, /ranks, sharding/);
  const states = (text: string): number => Number(/# optimizer states\s+\S+ GiB \(([\d.]+) MiB\)/.exec(text)![1]);
  assert.ok(Math.abs(states(two.out) - states(one.out) / 2) <= 0.01, `${states(two.out)} vs ${states(one.out)} MiB`);
  assert.ok(!existsSync(join(out, 'comm_stats.json')));
});
