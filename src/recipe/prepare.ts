// A recipe for `sft`, `train`, `logps` or `prepare`: read, checked, and its model folder and datasets found, before any work.
import { checkDatasetPaths, checkModelPath } from './paths.js';
import { loadRecipe, RecipeError, type Recipe } from './recipe.js';
import { checkRecipe } from './trainer-config.js';

/** Splits `RECIPE.yaml --key=value ...` into the recipe file (optional) and the overrides. */
export function splitArgs(args: string[]): { file: string | null; overrides: string[] } {
  const file = args.length > 0 && !args[0].startsWith('--') ? args[0] : null;
  return { file, overrides: file ? args.slice(1) : args };
}

/** Reads and checks a recipe for `task`, including that its model folder and datasets exist. */
export function prepareRecipe(task: 'sft' | 'preference', args: string[]): Recipe {
  const { file, overrides } = splitArgs(args);
  if (!file) throw new RecipeError(`A recipe file is needed: bfpo ${task === 'sft' ? 'sft' : 'train'} RECIPE.yaml [--key=value ...]`);
  const r = loadRecipe(file, overrides);
  checkRecipe(r, task);
  r.values.model_name_or_path = checkModelPath(r.values.model_name_or_path as string, 'model_name_or_path', r.values.model_revision as string);
  checkDatasetPaths(r.values.dataset_mixer as Record<string, number>);
  if (r.values.use_buffer) checkDatasetPaths(r.values.buffer_dataset_mixer as Record<string, number>, 'buffer_dataset_mixer');
  return r;
}

/**
 * Reads and checks the recipe of `bfpo logps`: `--model=DIR` and `--data=PATH` stand for model_name_or_path and a
 * one-dataset dataset_mixer; output_dir defaults to the current folder.
 */
export function prepareLogpsRecipe(args: string[]): Recipe {
  const mapped = args.map((a) => a.replace(/^--model=/, '--model_name_or_path=').replace(/^--data=(.*)$/, (_, p) => `--dataset_mixer={"${p}": 1.0}`));
  const { file, overrides } = splitArgs(mapped);
  const r = loadRecipe(file, overrides);
  if (!r.values.output_dir) r.values.output_dir = '.';
  checkRecipe(r, 'preference');
  r.values.model_name_or_path = checkModelPath(r.values.model_name_or_path as string, 'model_name_or_path', r.values.model_revision as string);
  checkDatasetPaths(r.values.dataset_mixer as Record<string, number>);
  return r;
}

/**
 * Reads and checks the recipe of `bfpo prepare` for `task`: as for training, but output_dir may be absent (nothing
 * is written there) and only the tokenizer of the model folder is needed.
 */
export function prepareDataRecipe(task: 'sft' | 'preference', args: string[]): Recipe {
  const { file, overrides } = splitArgs(args);
  if (!file) throw new RecipeError('A recipe file is needed: bfpo prepare RECIPE.yaml [--key=value ...]');
  const r = loadRecipe(file, overrides);
  if (!r.values.output_dir) r.values.output_dir = '.';
  checkRecipe(r, task);
  checkModelPath(r.values.model_name_or_path as string);
  checkDatasetPaths(r.values.dataset_mixer as Record<string, number>);
  if (r.values.use_buffer && task === 'preference') checkDatasetPaths(r.values.buffer_dataset_mixer as Record<string, number>, 'buffer_dataset_mixer');
  return r;
}
