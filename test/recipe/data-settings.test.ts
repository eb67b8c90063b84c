import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRecipe } from '../../src/recipe/recipe.js';
import { dataSettings } from '../../src/recipe/data-settings.js';

test('dataSettings maps the data keys onto the mixer options; the buffer only with use_buffer', () => {
  const r = loadRecipe(null, ['--dataset_mixer={data/a: 0.2}', '--buffer_dataset_mixer={data/b: 0}', '--buffer_dataset_splits=[train_prefs]', '--seed=3', '--test_split_size=0.1']);
  assert.deepEqual(dataSettings(r, 'preference'), { main: { mixer: { 'data/a': 0.2 }, splits: ['train', 'test'], task: 'preference', seed: 3, skipInvalid: false, testSplitSize: 0.1 } });
  const withBuffer = loadRecipe(null, ['--dataset_mixer={data/a: 1}', '--buffer_dataset_mixer={data/b: 0}', '--buffer_dataset_splits=[train_prefs]', '--use_buffer=true']);
  assert.deepEqual(dataSettings(withBuffer, 'preference'), {
    main: { mixer: { 'data/a': 1 }, splits: ['train', 'test'], task: 'preference', seed: 42, skipInvalid: false },
    buffer: { mixer: { 'data/b': 0 }, splits: ['train_prefs'], task: 'preference', seed: 42, skipInvalid: false },
  });
  // mixer_seed replaces the run's seed for the mixer's shuffle only; skip_invalid reaches the mixer.
  const original = loadRecipe(null, ['--dataset_mixer={data/a: 1}', '--seed=7', '--mixer_seed=42', '--skip_invalid=true']);
  assert.deepEqual(dataSettings(original, 'sft').main, { mixer: { 'data/a': 1 }, splits: ['train', 'test'], task: 'sft', seed: 42, skipInvalid: true });
  assert.equal(original.values.seed, 7);
});

test('a recipe fraction follows the mixer rule: 0 and 1 pass, outside [0, 1] names the key', () => {
  assert.deepEqual(loadRecipe(null, ['--dataset_mixer={data/a: 0, data/b: 1}']).values.dataset_mixer, { 'data/a': 0, 'data/b': 1 });
  assert.throws(() => loadRecipe(null, ['--dataset_mixer={data/a: -0.5}']), /Expected a fraction in \[0, 1\] for dataset_mixer.data\/a \(in the command line\) but received -0.5/);
});
