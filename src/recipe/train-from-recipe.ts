// Training from Node: a recipe (a file or a loaded Recipe, plus overrides) run as `bfpo train` / `bfpo sft` would,
// as a promise that an AbortSignal stops at a step boundary and callbacks follow.
import type { TrainHooks, TrainResult } from '../train/trainer.js';
import { checkSettingsPaths } from './prepare.js';
import { loadRecipe, overrideRecipe, type Recipe } from './recipe.js';
import { runTraining } from './run.js';
import { resolveSettings, type RunTask } from './settings.js';

/** What {@link trainFromRecipe} takes besides the recipe. */
export interface TrainFromRecipeOptions extends TrainHooks {
  /** `--key=value` overrides applied on top of the recipe, as on the command line. */
  overrides?: string[];
  /** 'preference' (as `bfpo train`, the default) or 'sft' (as `bfpo sft`). */
  task?: RunTask;
}

/**
 * Runs the training a recipe describes, resuming from the last checkpoint in its output_dir, without blocking the
 * event loop between optimizer steps. Aborting `signal` stops after the current step with a checkpoint written and
 * resolves with `stoppedBy: 'abort'`; calling again resumes. Resolves with null when do_train is false.
 *
 * @example
 * const ac = new AbortController();
 * const r = await trainFromRecipe('recipes/tiny-cpu.yaml', { overrides: ['--max_steps=20'], signal: ac.signal, onLog: (rec) => console.log(rec.loss) });
 */
export async function trainFromRecipe(recipe: string | Recipe, options: TrainFromRecipeOptions = {}): Promise<TrainResult | null> {
  const { overrides = [], task = 'preference', ...hooks } = options;
  const r = typeof recipe === 'string' ? loadRecipe(recipe, overrides) : overrideRecipe(recipe, overrides);
  const settings = resolveSettings(r, task);
  checkSettingsPaths(settings);
  return runTraining(settings, hooks);
}
