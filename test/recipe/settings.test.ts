// resolveSettings: a recipe becomes one typed RunSettings, every cross-key rule raised from it, no file read but the YAML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRecipe, RecipeError } from '../../src/recipe/recipe.js';
import { resolveSettings } from '../../src/recipe/settings.js';
import { prepareRecipe } from '../../src/recipe/prepare.js';
import { RecipeValues } from '../../src/recipe/values.js';

function withYaml<T>(text: string, fn: (file: string, dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-settings-'));
  try {
    const file = join(dir, 'r.yaml');
    writeFileSync(file, text);
    return fn(file, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const FULL = `model_name_or_path: models/sft
tokenizer_name_or_path: tokenizers/t
output_dir: out/run
dataset_mixer: {data/pku: 0.5, data/extra: 1}
dataset_splits: [train]
use_buffer: true
buffer_dataset_mixer: {data/uf: 1.0}
test_split_size: 0.1
tokenization: trl-0.7
max_length: 256
max_prompt_length: 128
bf16: true
loss_type: bfpo
beta: 0.01
b1: 4
alpha: 0.25
average_log_prob: true
use_peft: true
lora_r: 8
learning_rate: 5.0e-7
lr_scheduler_type: cosine
optim: sgd
logging_strategy: "no"
report_to: [all]
push_to_hub: true
seed: 7
per_device_train_batch_size: 2
`;

test('a full recipe resolves to the typed settings, with defaults, the LoRA target default and the loss parameters', () => {
  const s = withYaml(FULL, (file) => resolveSettings(loadRecipe(file), 'preference'));
  assert.equal(s.task, 'preference');
  assert.deepEqual(s.model, { path: 'models/sft', revision: 'main', dtype: 'bfloat16', tokenizerPath: 'tokenizers/t', chatTemplate: null, contentSpecialTokens: 'text', attention: 'auto' });
  assert.deepEqual(s.data, {
    main: { mixer: { 'data/pku': 0.5, 'data/extra': 1 }, splits: ['train'], seed: 7, skipInvalid: false, testSplitSize: 0.1 },
    buffer: { mixer: { 'data/uf': 1 }, splits: ['train', 'test'], seed: 7, skipInvalid: false, testSplitSize: 0.1 },
  });
  assert.deepEqual(s.tokenize, { mode: 'trl-0.7', maxLength: 256, maxPromptLength: 128, maxSeqLength: 2048, assistantOnlyLoss: true, packing: false, backend: 'auto', checkTexts: 64 });
  assert.deepEqual(s.batch, { train: 2, eval: 8, groupByLength: true });
  assert.deepEqual(s.loss, { type: 'bfpo', beta: 0.01, b1: 4, alpha: 0.25, labelSmoothing: 0, averageLogps: true });
  assert.equal(s.reference.strategy, 'adapter', 'use_peft without an explicit reference_strategy uses the adapter-disabled model');
  assert.match(s.reference.cacheDir, /bfpo[/\\]reference-logps$/);
  assert.deepEqual(s.lora, { r: 8, alpha: 32, dropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], save: 'adapter' });
  assert.equal(s.doTrain, true);
  assert.equal(s.device, 'auto', 'device defaults to auto');
  assert.equal(s.trainer.outputDir, 'out/run');
  assert.equal(s.trainer.learningRate, 5e-7);
  assert.equal(s.trainer.lrSchedulerType, 'cosine');
  assert.equal(s.trainer.optim, 'sgd');
  assert.equal(s.trainer.loggingSteps, Number.MAX_SAFE_INTEGER, 'logging_strategy no logs only at the end');
  assert.equal(s.trainer.evalSteps, 500, 'eval_steps null falls back to logging_steps');
  assert.deepEqual(s.trainer.reportTo, ['tensorboard'], 'report_to all is tensorboard');
  assert.equal(s.trainer.selectedLayers, null);
  assert.equal(s.trainer.seed, 7);
  assert.equal(s.trainer.runConfig.beta, 0.01, 'the run identity keeps the raw recipe keys');
  assert.ok(!('output_dir' in s.trainer.runConfig));
  assert.deepEqual(s.notes, ['push_to_hub has no effect: nothing is uploaded; the model stays in output_dir']);
});

test('the reference strategy: explicit copy with use_peft, precompute_ref_log_probs, the cache folder', () => {
  const base = ['--model_name_or_path=m', '--output_dir=o', '--dataset_mixer={d: 1}'];
  const copy = resolveSettings(loadRecipe(null, [...base, '--use_peft=true', '--reference_strategy=copy']), 'preference');
  assert.equal(copy.reference.strategy, 'copy');
  const pre = resolveSettings(loadRecipe(null, [...base, '--precompute_ref_log_probs=true', '--reference_cache_dir=/tmp/c']), 'preference');
  assert.deepEqual(pre.reference, { strategy: 'precomputed', cacheDir: '/tmp/c' });
  const plain = resolveSettings(loadRecipe(null, base), 'sft');
  assert.equal(plain.reference.strategy, 'copy');
  assert.equal(plain.lora, null);
  assert.equal(plain.loss, null, 'sft carries no loss settings');
  assert.equal(plain.data.buffer, null);
  assert.equal(plain.model.dtype, 'float32', 'torch_dtype null loads float32');
  assert.equal(plain.model.tokenizerPath, 'm', 'the tokenizer comes from the model folder by default');
  assert.equal(resolveSettings(loadRecipe(null, [...base, '--torch_dtype=auto']), 'sft').model.dtype, 'auto');
});

test('every cross-key and loss error is raised from resolveSettings', () => {
  const base = ['--model_name_or_path=m', '--output_dir=o', '--dataset_mixer={d: 1}'];
  const fails = (args: string[], re: RegExp, task: 'sft' | 'preference' = 'preference'): void =>
    assert.throws(() => resolveSettings(loadRecipe(null, args), task), (e) => e instanceof RecipeError && re.test(e.message), re.source);
  fails([], /The recipe must set model_name_or_path/);
  fails(['--model_name_or_path=m'], /The recipe must set output_dir/);
  fails(['--model_name_or_path=m', '--output_dir=o'], /must set dataset_mixer/);
  fails([...base, '--fp16=true'], /fp16 is not supported/);
  fails([...base, '--tokenizer_check_texts=-1'], /tokenizer_check_texts must be 0 or more, not -1/);
  fails([...base, '--use_buffer=true'], /use_buffer is true but buffer_dataset_mixer is not set/);
  fails([...base, '--use_buffer=true', '--buffer_dataset_mixer={d: 1}'], /use_buffer applies to preference training/, 'sft');
  fails([...base, '--use_peft=true', '--use_selective=true'], /use_peft and use_selective both choose what trains/);
  fails([...base, '--reference_strategy=adapter'], /reference_strategy adapter needs use_peft: true/);
  fails([...base, '--test_split_size=2.5'], /test_split_size must be a fraction between 0 and 1 or a whole number of rows/);
  fails([...base, '--max_prompt_length=1024'], /max_prompt_length \(1024\) must be smaller than max_length \(1024\)/);
  fails([...base, '--packing=true'], /packing applies to sft; preference pairs are never packed/);
  fails([...base, '--beta=0'], /Expected a number > 0 for beta but received 0/);
  fails([...base, '--b1=0.5'], /Expected a number > 1 .* for b1 but received 0.5/);
  fails([...base, '--loss_type=sigmoid', '--label_smoothing=0.7'], /Expected a number in \[0, 0.5\] for label_smoothing but received 0.7/);
  // sft does not use the loss keys, so a bad beta there is not an error.
  assert.equal(resolveSettings(loadRecipe(null, [...base, '--beta=0']), 'sft').loss, null);
});

test('resolving reads no file beyond the YAML: a missing model folder resolves, prepare then refuses it', () => {
  withYaml('model_name_or_path: no/such/model\noutput_dir: out\ndataset_mixer: {no/such/data: 1}\n', (file) => {
    const s = resolveSettings(loadRecipe(file), 'preference');
    assert.equal(s.model.path, 'no/such/model');
    assert.equal(s.trainer.outputDir, 'out');
    assert.throws(() => prepareRecipe('preference', [file]), /no\/such\/model/);
  });
});

test('a typed reader refuses a key of another declared type (the cast is checked by the key table)', () => {
  const v = new RecipeValues(loadRecipe(null, []));
  assert.equal(v.number('beta'), 0.1);
  assert.throws(() => v.boolean('beta'), /beta is declared number, read as boolean/);
  assert.throws(() => v.string('output_dir'), /may be null/);
  assert.throws(() => v.oneOf('loss_type', ['bfpo']), /loss_type allows sigmoid, ipo, hinge, kto_pair, which its reader does not type/);
  assert.throws(() => v.number('no_such_key'), /no_such_key is not a recipe key/);
});
