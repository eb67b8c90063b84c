// The loss, schedule and optimizer registries: the recipe keys take their names from them, and a loss registered
// here (one entry, no other edit) passes the recipe checks and computes through preferenceLoss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOSSES, DEFAULT_LOSS, registerLoss, lossNames, preferenceLoss, tensor, type LossSpec } from 'bfpo';
import { LOSS_PARAMS } from 'bfpo/losses';
import { KEY_INDEX } from '../../src/recipe/recipe-keys.js';
import { loadRecipe } from '../../src/recipe/recipe.js';
import { checkRecipe, preferenceOptions } from '../../src/recipe/trainer-config.js';
import { SCHEDULES } from '../../src/train/schedule.js';
import { OPTIMIZERS } from '../../src/train/optimizers.js';

/** (beta * h - 1)^2: a loss that exists only in this test. */
const squaredMargin: LossSpec = {
  name: 'squared_margin',
  needsSafetyLabels: false,
  params: { beta: LOSS_PARAMS.beta },
  citation: 'none (a test loss)',
  doc: '(beta*h - 1)^2',
  fn: (h, _lc, _lr, _labels, o) => h.mul(o.beta).sub(1).square(),
};

function withRecipe<T>(text: string, f: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-loss-registry-'));
  try {
    const file = join(dir, 'recipe.yaml');
    writeFileSync(file, text);
    return f(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const recipeText = (loss: string, extra = ''): string =>
  `model_name_or_path: m\noutput_dir: out\ndataset_mixer:\n  data/pairs: 1.0\nloss_type: ${loss}\nbeta: 0.5\n${extra}`;

test('the loss_type, lr_scheduler_type and optim keys take their values and defaults from the registries', () => {
  assert.deepEqual(KEY_INDEX.get('loss_type')?.values, Object.keys(LOSSES));
  assert.equal(KEY_INDEX.get('loss_type')?.default, DEFAULT_LOSS);
  assert.deepEqual(KEY_INDEX.get('lr_scheduler_type')?.values, Object.keys(SCHEDULES));
  assert.deepEqual(KEY_INDEX.get('optim')?.values, Object.keys(OPTIMIZERS));
  for (const p of Object.values(LOSS_PARAMS)) assert.equal(KEY_INDEX.get(p.key)?.default, p.default, p.key);
  assert.match(KEY_INDEX.get('b1')?.doc ?? '', /Read by loss_type bfpo\.$/);
  assert.match(KEY_INDEX.get('label_smoothing')?.doc ?? '', /Read by loss_type sigmoid\.$/);
  assert.match(KEY_INDEX.get('momentum')?.doc ?? '', /Read by optim sgd, rmsprop\.$/);
});

test('every built-in loss names itself, cites a paper and reads beta', () => {
  for (const [name, spec] of Object.entries(LOSSES)) {
    assert.equal(spec.name, name);
    assert.ok(spec.citation.length > 10 && spec.doc.length > 3, name);
    assert.ok(spec.params.beta, name);
  }
});

test('an unknown loss_type lists the registered names', () => {
  const x = { policyChosenLogps: tensor([-1]), policyRejectedLogps: tensor([-2]), referenceChosenLogps: tensor([-1]), referenceRejectedLogps: tensor([-2]) };
  assert.throws(() => preferenceLoss('nope', x), /Expected one of bfpo, sigmoid, ipo, hinge, kto_pair for loss_type but received "nope"/);
  withRecipe(recipeText('nope'), (file) => {
    assert.throws(() => loadRecipe(file), /Expected one of bfpo, sigmoid, ipo, hinge, kto_pair for loss_type \(in .*recipe\.yaml\) but received "nope"/);
  });
});

test('a loss registered in a test passes the recipe checks and computes through preferenceLoss', () => {
  withRecipe(recipeText('squared_margin'), (file) => assert.throws(() => loadRecipe(file), /for loss_type/));
  registerLoss(squaredMargin);
  assert.deepEqual(lossNames(), ['bfpo', 'sigmoid', 'ipo', 'hinge', 'kto_pair', 'squared_margin']);
  assert.throws(() => registerLoss(squaredMargin), /A loss named 'squared_margin' is already registered/);
  assert.throws(() => registerLoss({ ...LOSSES.bfpo }), /A loss named 'bfpo' is already registered/);
  assert.throws(() => registerLoss({ ...squaredMargin, name: 'Bad Name' }), /lower-case letters/);

  // The recipe layer accepts it, checks the parameters it reads, and refuses one it does not read.
  withRecipe(recipeText('squared_margin'), (file) => {
    const r = loadRecipe(file);
    checkRecipe(r, 'preference');
    assert.deepEqual(preferenceOptions(r), { lossType: 'squared_margin', beta: 0.5, b1: 3, alpha: 0.5, labelSmoothing: 0 });
  });
  withRecipe(recipeText('squared_margin', 'label_smoothing: 0.1\n'), (file) => {
    assert.throws(() => checkRecipe(loadRecipe(file), 'preference'), /label_smoothing applies to loss_type 'sigmoid' only, not 'squared_margin'/);
  });
  withRecipe(recipeText('squared_margin').replace('beta: 0.5', 'beta: 0'), (file) => {
    assert.throws(() => checkRecipe(loadRecipe(file), 'preference'), /Expected a number > 0 for beta but received 0/);
  });
  withRecipe(recipeText('nope'), (file) => {
    assert.throws(() => loadRecipe(file), /Expected one of bfpo, sigmoid, ipo, hinge, kto_pair, squared_margin for loss_type/);
  });

  // lc = pc - rc = [0.5, 0], lr = pr - rr = [-1, 0.5], h = [1.5, -0.5]; beta = 0.5:
  // losses = (0.5 h - 1)^2 = [0.0625, 1.5625]; d(sum)/d(pc) = 2 * 0.5 * (0.5 h - 1) = [-0.25, -1.25].
  const pc = tensor(Float64Array.from([-1, -2])).requiresGrad_();
  const out = preferenceLoss('squared_margin', {
    policyChosenLogps: pc, policyRejectedLogps: tensor(Float64Array.from([-3, -1])),
    referenceChosenLogps: tensor(Float64Array.from([-1.5, -2])), referenceRejectedLogps: tensor(Float64Array.from([-2, -1.5])),
  }, { beta: 0.5 });
  assert.deepEqual(Array.from(out.losses.toTypedArray() as Float64Array), [0.0625, 1.5625]);
  assert.deepEqual(Array.from(out.chosenRewards.toTypedArray() as Float64Array), [0.25, 0]);
  out.losses.sum().backward();
  assert.deepEqual(Array.from(pc.grad!.toTypedArray() as Float64Array), [-0.25, -1.25]);
});
