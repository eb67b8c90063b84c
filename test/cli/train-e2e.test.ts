// `bfpo train recipes/tiny-cpu.yaml` end to end (a few steps): the output folder is a loadable HF model folder,
// a rerun resumes, and a rerun with another learning rate is refused.
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMain } from './run-main.js';
import { loadTokenizer } from '../../src/io/tokenizer.js';
import { loadPretrained } from '../../src/models/pretrained.js';
import { noGrad, tensor } from '../../src/index.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'bfpo-e2e-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[], where = root) => runMain(args, where);

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
  const model = loadPretrained(out, { dtype: 'float32' }).model;
  const tok = loadTokenizer(out);
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
  assert.match(resumed.err, /^epoch \S+ \| step 3\/3 \| loss \S+ \| acc \S+ \| margin \S+ \| lr \S+ \| \d+ tok\/s \| ETA \S+$/m);
  assert.ok(resumed.err.includes(`checkpoint saved: ${join(out, 'checkpoint-3')} (step 3)`), resumed.err);
  assert.doesNotMatch(resumed.err, /\x1b/, 'no escape codes when stderr is not a terminal');

  const events = readdirSync(join(out, 'runs'));
  const complete = await run(['train', 'recipes/tiny-cpu.yaml', ...common]);
  assert.equal(complete.code, undefined, complete.err);
  assert.match(complete.err, new RegExp(`already complete: ${out} finished at step 3 of 3`));
  assert.doesNotMatch(complete.err, /^epoch /m);
  assert.deepEqual(readdirSync(join(out, 'runs')), events, 'no new TensorBoard event file');
});

test('bfpo logps fills the cache that a later LoRA run reads; LoRA saves a PEFT adapter or a merged model', async () => {
  const cache = join(dir, 'cache2');
  const logps = await run(['logps', 'recipes/tiny-cpu.yaml', `--reference_cache_dir=${cache}`]);
  assert.equal(logps.code, undefined, logps.err);
  assert.equal(readdirSync(cache).filter((f) => f.endsWith('.f64')).length, 3);
  const lora = [`--output_dir=${join(dir, 'lora')}`, `--reference_cache_dir=${cache}`, '--max_steps=2', '--save_steps=1', '--use_peft=true',
    '--lora_r=4', '--lora_alpha=8', '--lora_target_modules=q_proj,v_proj', '--reference_strategy=precomputed'];
  const r = await run(['train', 'recipes/tiny-cpu.yaml', ...lora]);
  assert.equal(r.code, undefined, r.err);
  assert.match(r.err, /reference log-probs of the train data read from/);
  assert.match(r.err, /LoRA r=4 alpha=8 on 4 layers/);
  const cfg = JSON.parse(readFileSync(join(dir, 'lora', 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.peft_type, 'LORA');
  assert.equal(cfg.r, 4);
  assert.ok(existsSync(join(dir, 'lora', 'checkpoint-1', 'adapter_model.safetensors')));
  const merged = await run(['train', 'recipes/tiny-cpu.yaml', ...lora.map((a) => a.replace(join(dir, 'lora'), join(dir, 'merged'))), '--lora_save=merged']);
  assert.equal(merged.code, undefined, merged.err);
  const m = loadPretrained(join(dir, 'merged'), { dtype: 'float32' }).model;
  assert.ok(!m.namedParameters().some(([k]) => k.includes('lora_')));
  m.dispose();
});

test('bfpo sft trains the tiny model on UltraChat-layout data', async () => {
  const r = await run(['sft', 'recipes/tiny-cpu.yaml', `--output_dir=${join(dir, 'sft')}`, '--dataset_mixer={test/fixtures/data/ultrachat: 1.0}',
    '--dataset_splits=train_sft,test_sft', '--use_buffer=false', '--max_seq_length=256', '--max_steps=2', '--reference_strategy=copy']);
  assert.equal(r.code, undefined, r.err);
  const log = readFileSync(join(dir, 'sft', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.some((l) => Number.isFinite(l.loss)));
  assert.ok(existsSync(join(dir, 'sft', 'model.safetensors')));
});

test('do_train: false only evaluates the starting model', async () => {
  const out = join(dir, 'eval-only');
  const r = await run(['train', 'recipes/tiny-cpu.yaml', `--output_dir=${out}`, '--do_train=false', '--reference_strategy=copy', '--run_name=check']);
  assert.equal(r.code, undefined, r.err);
  const m = JSON.parse(readFileSync(join(out, 'eval_results.json'), 'utf8'));
  assert.equal(m['eval_rewards/margins'], 0, 'the policy is its own reference before training');
  assert.ok(!existsSync(join(out, 'model.safetensors')));
});

test('the original red-teaming launch runs: one JSON file, its rows trained and evaluated as the original, with a warning', async () => {
  // As the original launched it: the BFPO recipe with the red-teaming data config, run where data/ holds the file.
  const work = join(dir, 'redteaming');
  mkdirSync(join(work, 'data'), { recursive: true });
  copyFileSync(join(root, 'test/fixtures/data/red-team.json'), join(work, 'data/zephyr-7b-beta_beaver_redteaming.json'));
  const r = await run(['train', join(root, 'recipes/zephyr-7b-beta/bfpo/selective.yaml'), '--per_device_train_batch_size=2',
    '--gradient_accumulation_steps=4', '--output_dir=./models/bfpo-selective-redteaming', `--model_name_or_path=${join(root, 'recipes/tiny/model')}`,
    `--other_data_config=${join(root, 'recipes/zephyr-7b-beta/data/redteaming.yaml')}`, '--use_selective=True', '--save_total_limit=10',
    '--max_steps=1'], work);
  assert.equal(r.code, undefined, r.err);
  assert.match(r.err, /data data\/zephyr-7b-beta_beaver_redteaming\.json \[train\]: 8 examples \(8 of 8 rows\)/);
  assert.match(r.err, /data data\/zephyr-7b-beta_beaver_redteaming\.json \[train\]: 8 examples[\s\S]*data data\/zephyr-7b-beta_beaver_redteaming\.json \[train\]: 8 examples/, 'the test split reads the train rows');
  assert.match(r.err, /warning: data\/zephyr-7b-beta_beaver_redteaming\.json has no test split of its own, so its test rows are its training rows .*test_split_size/);
  const out = join(work, 'models/bfpo-selective-redteaming');
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.some((l) => Number.isFinite(l['eval_rewards/margins'])), 'evaluated on the training rows');
  const cfg = JSON.parse(readFileSync(join(out, 'run_config.json'), 'utf8'));
  assert.deepEqual(cfg.data_files.map((f: { file: string; sha256: string }) => [f.file, f.sha256]),
    [['data/zephyr-7b-beta_beaver_redteaming.json', createHash('sha256').update(readFileSync(join(work, 'data/zephyr-7b-beta_beaver_redteaming.json'))).digest('hex')]]);
  const held = await run(['train', join(root, 'recipes/zephyr-7b-beta/bfpo/redteaming.yaml'), '--test_split_size=0.1', '--max_steps=1',
    `--model_name_or_path=${join(root, 'recipes/tiny/model')}`, '--output_dir=./models/held', '--gradient_accumulation_steps=1'], work);
  assert.equal(held.code, undefined, held.err);
  assert.match(held.err, /\[train\]: 7 examples \(7 of 8 rows, 1 held out as test\)/);
  assert.doesNotMatch(held.err, /warning:/);
  const bad = await run(['train', join(root, 'recipes/zephyr-7b-beta/bfpo/redteaming.yaml'), '--test_split_size=1.5'], work);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /test_split_size must be a fraction between 0 and 1 or a whole number of rows \(≥ 1\), not 1.5/);
});
