// A recipe for `sft`, `train`, `logps` or `prepare`: read, checked, and its model folder and datasets found, before any work.
import { checkDatasetPaths, checkModelPath } from './paths.js';
import { loadRecipe, RecipeError } from './recipe.js';
import { resolveSettings, type RunSettings, type RunTask } from './settings.js';

/** Splits `RECIPE.yaml --key=value ...` into the recipe file (optional) and the overrides. */
export function splitArgs(args: string[]): { file: string | null; overrides: string[] } {
  const file = args.length > 0 && !args[0].startsWith('--') ? args[0] : null;
  return { file, overrides: file ? args.slice(1) : args };
}

/** The paths a resolved run reads: its model folder and every dataset (the one check that touches the disk). */
export function checkSettingsPaths(s: RunSettings): void {
  const path = checkModelPath(s.model.path, 'model_name_or_path', s.model.revision);
  if (s.model.tokenizerPath === s.model.path) s.model.tokenizerPath = path;
  s.model.path = path;
  checkDatasetPaths(s.data.main.mixer);
  if (s.data.buffer) checkDatasetPaths(s.data.buffer.mixer, 'buffer_dataset_mixer');
}

/** Reads a recipe for `task` and resolves it into checked settings, including that its model folder and datasets exist. */
export function prepareRecipe(task: RunTask, args: string[]): RunSettings {
  const { file, overrides } = splitArgs(args);
  if (!file) throw new RecipeError(`A recipe file is needed: bfpo ${task === 'sft' ? 'sft' : 'train'} RECIPE.yaml [--key=value ...]`);
  const s = resolveSettings(loadRecipe(file, overrides), task);
  checkSettingsPaths(s);
  return s;
}

/**
 * Reads and checks the recipe of `bfpo logps`: `--model=DIR` and `--data=PATH` stand for model_name_or_path and a
 * one-dataset dataset_mixer; output_dir defaults to the current folder.
 */
export function prepareLogpsRecipe(args: string[]): RunSettings {
  const mapped = args.map((a) => a.replace(/^--model=/, '--model_name_or_path=').replace(/^--data=(.*)$/, (_, p) => `--dataset_mixer={"${p}": 1.0}`));
  const { file, overrides } = splitArgs(mapped);
  const r = loadRecipe(file, overrides);
  if (!r.values.output_dir) r.values.output_dir = '.';
  const s = resolveSettings(r, 'preference');
  checkSettingsPaths(s);
  return s;
}

/**
 * Reads and checks the recipe of `bfpo prepare` for `task`: as for training, but output_dir may be absent (nothing
 * is written there) and only the tokenizer of the model folder is needed.
 */
export function prepareDataRecipe(task: RunTask, args: string[]): RunSettings {
  const { file, overrides } = splitArgs(args);
  if (!file) throw new RecipeError('A recipe file is needed: bfpo prepare RECIPE.yaml [--key=value ...]');
  const r = loadRecipe(file, overrides);
  if (!r.values.output_dir) r.values.output_dir = '.';
  const s = resolveSettings(r, task);
  checkSettingsPaths(s);
  return s;
}
