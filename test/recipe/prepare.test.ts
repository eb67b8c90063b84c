import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareRecipe } from '../../src/recipe/prepare.js';
import { RecipeError } from '../../src/recipe/recipe.js';
import { main } from '../../src/cli/main.js';

// A model folder that would fail to load (config.json is not JSON) and data that exists: the loss checks must
// fail first, before anything is read.
function brokenRecipe(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-prepare-'));
  mkdirSync(join(dir, 'model'));
  writeFileSync(join(dir, 'model/config.json'), 'not json');
  writeFileSync(join(dir, 'data.jsonl'), '');
  const file = join(dir, 'recipe.yaml');
  writeFileSync(file, `model_name_or_path: ${join(dir, 'model')}\noutput_dir: ${join(dir, 'out')}\ndataset_mixer: {${join(dir, 'data.jsonl')}: 1.0}\n`);
  return file;
}

test('the loss hyper-parameters are checked with the recipe, before any model or data is read', () => {
  const file = brokenRecipe();
  assert.throws(() => prepareRecipe('preference', [file, '--beta=-1']), (e) => e instanceof RecipeError && /Expected a number > 0 for beta but received -1/.test(e.message));
  assert.throws(() => prepareRecipe('preference', [file, '--b1=1']), /Expected a number > 1 \(b3 = 1 \/ \(b1 - 1\)\) for b1 but received 1/);
  assert.throws(() => prepareRecipe('preference', [file, '--label_smoothing=0.6', '--loss_type=sigmoid']), /Expected a number in \[0, 0.5\] for label_smoothing but received 0.6/);
  assert.throws(() => prepareRecipe('preference', [file, '--label_smoothing=0.1']), /label_smoothing applies to loss_type 'sigmoid' only, not 'bfpo'/);
  // A good recipe passes the checks (the broken model is only found when loaded), and sft ignores the loss keys.
  assert.equal(prepareRecipe('preference', [file, '--loss_type=sigmoid', '--label_smoothing=0.1']).loss?.labelSmoothing, 0.1);
  assert.equal(prepareRecipe('sft', [file, '--beta=-1']).loss, null);
});

test('bfpo train recipe.yaml --beta=-1 exits non-zero with the beta error, not a model error', async () => {
  const file = brokenRecipe();
  const error = console.error;
  let err = '';
  console.error = (...a: unknown[]) => { err += `${a.join(' ')}\n`; };
  process.exitCode = undefined;
  try {
    await main(['train', file, '--beta=-1']);
  } finally {
    console.error = error;
  }
  assert.equal(process.exitCode, 1);
  process.exitCode = undefined;
  assert.match(err, /^bfpo: Expected a number > 0 for beta but received -1/);
  assert.doesNotMatch(err, /config\.json/);
});

test('the loss_type, lr_scheduler_type and optim values are the loss, schedule and optimizer lists', async () => {
  const { KEY_INDEX } = await import('../../src/recipe/recipe-keys.js');
  const { LOSS_TYPES } = await import('../../src/losses/preference.js');
  const { SCHEDULE_TYPES } = await import('../../src/train/schedule.js');
  const { OPTIM_NAMES } = await import('../../src/train/optimizers.js');
  assert.deepEqual(KEY_INDEX.get('loss_type')?.values, [...LOSS_TYPES]);
  assert.deepEqual(KEY_INDEX.get('lr_scheduler_type')?.values, [...SCHEDULE_TYPES]);
  assert.deepEqual(KEY_INDEX.get('optim')?.values, [...OPTIM_NAMES]);
});
