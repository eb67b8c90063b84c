// Recipes: the original recipes and ours load; overrides, other_data_config and every error message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRecipe, nearestKey, editDistance, checkValue, RecipeError } from '../../src/recipe/recipe.js';
import { RECIPE_KEYS, renderKeyTable } from '../../src/recipe/recipe-keys.js';
import { runIdentity } from '../../src/recipe/trainer-config.js';
import { resolveSettings, type RunTask } from '../../src/recipe/settings.js';
import type { Recipe } from '../../src/recipe/recipe.js';

const trainerConfig = (r: Recipe) => resolveSettings(r, 'preference').trainer;
const checkRecipe = (r: Recipe, task: RunTask): void => { resolveSettings(r, task); };

const fixtures = new URL('../fixtures/cli/', import.meta.url).pathname;
const root = new URL('../../', import.meta.url).pathname;

function withYaml(text: string, fn: (file: string, dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-recipe-'));
  try {
    const file = join(dir, 'r.yaml');
    writeFileSync(file, text);
    fn(file, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the original BFPO and SFT recipes load with the original launch overrides', () => {
  const bfpo = loadRecipe(join(fixtures, 'original-bfpo.yaml'), ['--per_device_train_batch_size=2', '--gradient_accumulation_steps=4',
    '--output_dir=./models/bfpo-selective', '--model_name_or_path=./models/sft-selective',
    `--other_data_config=${join(fixtures, 'original-balance_bfpo.yaml')}`, '--use_selective=True', '--remove_unused_columns=False']);
  const v = bfpo.values;
  assert.equal(v.beta, 0.01);
  assert.equal(v.learning_rate, 5e-7);
  assert.equal(v.per_device_train_batch_size, 2);
  assert.equal(v.gradient_accumulation_steps, 4);
  assert.equal(v.use_selective, true);
  assert.equal(v.remove_unused_columns, false);
  assert.equal(v.hub_token, null);
  assert.deepEqual(v.dataset_mixer, { 'PKU-Alignment/PKU-SafeRLHF': 0.2 }, 'other_data_config overrides the data keys');
  assert.equal(v.use_buffer, true);
  assert.deepEqual(v.buffer_dataset_mixer, { 'HuggingFaceH4/ultrafeedback_binarized': 1 });
  assert.deepEqual(v.report_to, ['wandb']);
  const c = trainerConfig(bfpo);
  assert.equal(c.lrSchedulerType, 'cosine');
  assert.equal(c.evalStrategy, 'steps');
  assert.equal(c.evalSteps, 100);
  assert.deepEqual(c.selectedLayers, ['down_proj']);
  assert.equal(c.saveTotalLimit, 1);
  assert.equal(c.gradientCheckpointing, true, 'gradient_checkpointing: true reaches the trainer');
  assert.ok(!('gradient_checkpointing' in runIdentity(bfpo)), 'switching checkpointing does not block resuming');
  assert.equal(trainerConfig(loadRecipe(join(fixtures, 'original-bfpo.yaml'), ['--gradient_checkpointing=false'])).gradientCheckpointing, false);

  const sft = loadRecipe(join(fixtures, 'original-sft.yaml'), ['--gradient_accumulation_steps=2', '--learning_rate=5e-7', '--use_selective=True']);
  assert.equal(sft.values.max_seq_length, 2048);
  assert.equal(sft.values.learning_rate, 5e-7);
  assert.deepEqual(sft.values.gradient_checkpointing_kwargs, { use_reentrant: false });
  assert.match(sft.values.chat_template as string, /<\|assistant\|>/);
});

test('every shipped recipe loads; data configs load as other_data_config', () => {
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : n.endsWith('.yaml') ? [join(d, n)] : []));
  const files = walk(join(root, 'recipes'));
  assert.ok(files.length >= 5);
  for (const f of files) {
    const r = f.includes('/data/') ? loadRecipe(null, [`--other_data_config=${f}`]) : loadRecipe(f);
    assert.ok(r.values.dataset_mixer, f);
  }
  const bfpo = loadRecipe(join(root, 'recipes/zephyr-7b-beta/bfpo/selective.yaml'), ['--other_data_config=recipes/zephyr-7b-beta/data/balance_bfpo.yaml']);
  assert.deepEqual(bfpo.values.dataset_mixer, { 'data/PKU-SafeRLHF': 0.2 });
  checkRecipe(bfpo, 'preference');
});

test('command-line values: booleans, numbers, lists (comma or YAML flow), mappings, null', () => {
  const r = loadRecipe(null, ['--bf16=True', '--do_eval', 'false', '--learning_rate=2e-6', '--selected_layers=down_proj,up_proj',
    '--report_to=[tensorboard]', '--dataset_mixer={data/a: 0.5, data/b: 1}', '--save_total_limit=None', '--use_buffer']);
  assert.equal(r.values.bf16, true);
  assert.equal(r.values.do_eval, false);
  assert.equal(r.values.learning_rate, 2e-6);
  assert.deepEqual(r.values.selected_layers, ['down_proj', 'up_proj']);
  assert.deepEqual(r.values.report_to, ['tensorboard']);
  assert.deepEqual(r.values.dataset_mixer, { 'data/a': 0.5, 'data/b': 1 });
  assert.equal(r.values.save_total_limit, null);
  assert.equal(r.values.use_buffer, true);
  assert.equal(r.setBy.bf16, 'the command line');
});

test('an unknown key is an error that suggests the nearest known one', () => {
  assert.equal(editDistance('lerning_rate', 'learning_rate'), 1);
  assert.equal(nearestKey('lerning_rate'), 'learning_rate');
  assert.equal(nearestKey('zzzz'), null);
  withYaml('lerning_rate: 1e-5\n', (file) => {
    assert.throws(() => loadRecipe(file), (e: Error) => e instanceof RecipeError &&
      e.message === `Unknown recipe key "lerning_rate" (in ${file}); did you mean "learning_rate"?`);
  });
  assert.throws(() => loadRecipe(null, ['--gradient_acumulation_steps=2']), /Unknown recipe key "gradient_acumulation_steps" \(in the command line\); did you mean "gradient_accumulation_steps"\?/);
  assert.throws(() => loadRecipe(null, ['--qqqqqqqq=1']), /Unknown recipe key "qqqqqqqq" \(in the command line\); `bfpo train --help` lists every key/);
});

test('a bad value names the key, where it was set and the allowed values', () => {
  withYaml('lr_scheduler_type: cosin\n', (file) => {
    assert.throws(() => loadRecipe(file), new RegExp(`Expected one of cosine, linear, constant, constant_with_warmup for lr_scheduler_type \\(in ${file}\\) but received "cosin"`));
  });
  assert.throws(() => loadRecipe(null, ['--bf16=yes']), /Expected true, false or auto for bf16 \(in the command line\) but received "yes"/);
  assert.throws(() => loadRecipe(null, ['--gradient_accumulation_steps=2.5']), /Expected an integer for gradient_accumulation_steps/);
  assert.throws(() => loadRecipe(null, ['--report_to=mlfloww']), /Expected a list of tensorboard, none, all, wandb, mlflow, .* for report_to/);
  assert.throws(() => loadRecipe(null, ['--dataset_mixer={data/a: 2}']), /Expected a fraction in \[0, 1\] for dataset_mixer.data\/a \(in the command line\) but received 2/);
  assert.throws(() => loadRecipe(null, ['--learning_rate=None']), /Expected a number for learning_rate/);
});

test('a key given twice is an error: in the YAML, on the command line, or as a key and its alias', () => {
  withYaml('beta: 0.1\nseed: 1\nbeta: 0.2\n', (file) => {
    assert.throws(() => loadRecipe(file), new RegExp(`The key "beta" is given twice in ${file} \\(lines 1 and 3\\)`));
  });
  assert.throws(() => loadRecipe(null, ['--beta=0.1', '--beta=0.2']), /The key "beta" is given twice on the command line/);
  assert.throws(() => loadRecipe(null, ['--eval_strategy=steps', '--evaluation_strategy=no']), /given twice on the command line/);
  withYaml('eval_strategy: steps\nevaluation_strategy: no\n', (file) => {
    assert.throws(() => loadRecipe(file), /The key "evaluation_strategy" is given twice in .* \(also as evaluation_strategy\)/);
  });
  // A command-line value overriding the YAML is not a duplicate.
  withYaml('beta: 0.1\n', (file) => assert.equal(loadRecipe(file, ['--beta=0.3']).values.beta, 0.3));
});

test('precedence: the command line beats other_data_config, or the reverse with other_data_config_wins (the original)', () => {
  withYaml('max_length: 64\nmax_prompt_length: 16\n', (file, dir) => {
    writeFileSync(join(dir, 'data.yaml'), 'max_length: 128\n');
    const args = [`--other_data_config=${join(dir, 'data.yaml')}`, '--max_length=256'];
    assert.equal(loadRecipe(file, args).values.max_length, 256);
    assert.equal(loadRecipe(file, [...args, '--other_data_config_wins=true']).values.max_length, 128);
    writeFileSync(file, 'max_length: 64\nother_data_config_wins: true\n');
    const r = loadRecipe(file, args);
    assert.equal(r.values.max_length, 128);
    assert.match(r.setBy.max_length!, /data\.yaml$/);
    assert.equal(loadRecipe(file, [...args, '--other_data_config_wins=false']).values.max_length, 256);
  });
  // The shipped original-values recipes choose the original's order.
  for (const f of ['bfpo/selective.yaml', 'sft/selective.yaml']) {
    const r = loadRecipe(join(root, 'recipes/zephyr-7b-beta', f), ['--other_data_config=recipes/zephyr-7b-beta/data/balance_bfpo.yaml', '--dataset_mixer={data/x: 1.0}']);
    assert.deepEqual(r.values.dataset_mixer, { 'data/PKU-SafeRLHF': 0.2 }, f);
  }
});

test('the original-values recipes state the original behaviour key by key', () => {
  const bfpo = loadRecipe(join(root, 'recipes/zephyr-7b-beta/bfpo/selective.yaml')).values;
  const sft = loadRecipe(join(root, 'recipes/zephyr-7b-beta/sft/selective.yaml')).values;
  const red = loadRecipe(join(root, 'recipes/zephyr-7b-beta/bfpo/redteaming.yaml')).values;
  for (const v of [bfpo, sft, red]) {
    assert.equal(v.tokenization, 'trl-0.7');
    assert.equal(v.group_by_length, false);
    assert.equal(v.logging_first_step, true);
    assert.equal(v.mixer_seed, 42);
    assert.equal(v.optim, 'adamw_torch');
    assert.deepEqual(v.lora_target_modules, ['q_proj', 'v_proj']);
  }
  assert.equal(bfpo.original_metrics, true);
  assert.equal(red.original_metrics, true);
  assert.equal(sft.packing, true);
  assert.equal(sft.max_seq_length, 2048);
  assert.deepEqual([bfpo.max_length, bfpo.max_prompt_length], [1024, 512]);
  assert.equal(red.test_split_size, null); // the red-teaming rows are also its test split, as the original
  assert.deepEqual([red.per_device_train_batch_size, red.gradient_accumulation_steps], [2, 8]); // 2 GPUs x 2 x 4
  const data = loadRecipe(null, ['--other_data_config=recipes/zephyr-7b-beta/data/redteaming.yaml']).values;
  assert.equal(data.test_split_size, null);
});

test('other_data_config: data keys only, and a missing file says where it was looked for', () => {
  withYaml('learning_rate: 1e-5\n', (file, dir) => {
    writeFileSync(join(dir, 'data.yaml'), 'beta: 0.5\n');
    assert.throws(() => loadRecipe(file, [`--other_data_config=${join(dir, 'data.yaml')}`]), /The key "beta" is not a data key, so .*data\.yaml cannot set it/);
    assert.throws(() => loadRecipe(file, ['--other_data_config=nope.yaml']), (e: Error) =>
      /other_data_config nope\.yaml does not exist \(looked for .*nope\.yaml and .*nope\.yaml\)/.test(e.message));
  });
  assert.throws(() => loadRecipe('no/such/recipe.yaml'), /The recipe no\/such\/recipe\.yaml does not exist \(looked for \/.*no\/such\/recipe\.yaml\)/);
  withYaml('- a\n- b\n', (file) => assert.throws(() => loadRecipe(file), /must be a mapping of keys to values/));
  withYaml('a: [1,\n', (file) => assert.throws(() => loadRecipe(file), /is not valid YAML/));
});

test('cross-key checks: required keys, fp16, buffer without data, prompt longer than the sequence', () => {
  const base = ['--model_name_or_path=m', '--output_dir=o', '--dataset_mixer={d: 1}'];
  assert.throws(() => checkRecipe(loadRecipe(null, []), 'preference'), /The recipe must set model_name_or_path/);
  assert.throws(() => checkRecipe(loadRecipe(null, ['--model_name_or_path=m', '--output_dir=o']), 'preference'), /must set dataset_mixer/);
  assert.throws(() => checkRecipe(loadRecipe(null, [...base, '--fp16=true']), 'preference'), /fp16 is not supported/);
  assert.throws(() => checkRecipe(loadRecipe(null, [...base, '--use_buffer=true']), 'preference'), /use_buffer is true but buffer_dataset_mixer is not set/);
  assert.throws(() => checkRecipe(loadRecipe(null, [...base, '--max_prompt_length=2000']), 'preference'), /max_prompt_length \(2000\) must be smaller than max_length \(1024\)/);
  assert.throws(() => checkRecipe(loadRecipe(null, [...base, '--use_peft=true', '--use_selective=true']), 'preference'), /use_peft and use_selective both choose what trains/);
  assert.throws(() => checkRecipe(loadRecipe(null, [...base, '--reference_strategy=adapter']), 'preference'), /reference_strategy adapter needs use_peft: true/);
  const peft = loadRecipe(null, [...base, '--use_peft=true', '--lora_target_modules=q_proj,v_proj']);
  checkRecipe(peft, 'preference');
  assert.equal(resolveSettings(peft, 'preference').reference.strategy, 'adapter', 'LoRA runs use the adapter-disabled model unless told otherwise');
  assert.deepEqual(resolveSettings(peft, 'preference').lora, { r: 16, alpha: 32, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], save: 'adapter' });
  assert.equal(resolveSettings(loadRecipe(null, [...base, '--use_peft=true', '--reference_strategy=copy']), 'preference').reference.strategy, 'copy');
  assert.throws(() => checkRecipe(loadRecipe(null, [...base, '--use_buffer=true', '--buffer_dataset_mixer={d: 1}']), 'sft'), /use_buffer applies to preference training/);
});

test('the run identity leaves out keys that do not change the weights', () => {
  const a = runIdentity(loadRecipe(null, ['--logging_steps=3', '--output_dir=x', '--push_to_hub=true']));
  const b = runIdentity(loadRecipe(null, ['--logging_steps=7', '--output_dir=y']));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, runIdentity(loadRecipe(null, ['--learning_rate=1'])));
});

test('every key has a type, a default that passes its own check, and a doc; docs/training.md holds the current table', () => {
  for (const s of RECIPE_KEYS) {
    assert.ok(s.doc.length > 5, s.key);
    if (s.default !== null || !s.nullable) assert.deepEqual(checkValue(s, s.default, 'the defaults'), s.default, s.key);
  }
  const doc = readFileSync(join(root, 'docs/training.md'), 'utf8');
  const between = /<!-- recipe-keys:start -->\n([\s\S]*?)<!-- recipe-keys:end -->/.exec(doc)?.[1];
  assert.equal(between, renderKeyTable(), 'run `npm run docs:recipe-keys` to regenerate the table');
});
