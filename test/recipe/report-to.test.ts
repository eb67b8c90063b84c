// report_to values bfpo does not log to are accepted with a warning naming what is logged instead and how to import it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRecipe } from '../../src/recipe/recipe.js';
import { reportToWarnings } from '../../src/recipe/report-to.js';

test('wandb and mlflow warn with what is logged and how to import it; tensorboard and none do not', () => {
  const [w] = reportToWarnings(['wandb', 'tensorboard'], 'out/run');
  assert.equal(w, 'report_to wandb: bfpo does not log to wandb; metrics are written to out/run/log.jsonl and as TensorBoard event files in out/run/runs. ' +
    'To bring them into wandb: `wandb sync --sync-tensorboard out/run/runs` uploads the TensorBoard event files as a W&B run.');
  const [m] = reportToWarnings(['mlflow'], 'o');
  assert.match(m, /^report_to mlflow: bfpo does not log to mlflow; metrics are written to o\/log\.jsonl \(add tensorboard to report_to for TensorBoard event files\)\. To bring them into mlflow: log\.jsonl/);
  assert.deepEqual(reportToWarnings(['tensorboard', 'none', 'all'], 'o'), []);
});

test('the recipe accepts the trackers of transformers and refuses unknown ones', () => {
  const r = loadRecipe(null, ['--report_to=wandb,mlflow', '--model_name_or_path=m', '--output_dir=o']);
  assert.deepEqual(r.values.report_to, ['wandb', 'mlflow']);
  assert.throws(() => loadRecipe(null, ['--report_to=wandbb']), /report_to/);
});
