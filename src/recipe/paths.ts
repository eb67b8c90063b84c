// Checks that the model folder and the datasets a recipe names exist, saying what was looked for.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { RecipeError } from './recipe.js';

/** The model folder: it must exist and hold config.json. */
export function checkModelPath(path: string, key = 'model_name_or_path'): string {
  const abs = resolve(path);
  if (!existsSync(abs)) {
    const hint = /^[\w.-]+\/[\w.-]+$/.test(path) && !path.startsWith('.') ? ' (models are read from local folders; download the Hugging Face repository into a folder and give its path)' : '';
    throw new RecipeError(`The model folder of ${key} was not found: looked for ${abs}${hint}`);
  }
  if (!statSync(abs).isDirectory() || !existsSync(resolve(abs, 'config.json'))) {
    throw new RecipeError(`${key} must be a Hugging Face model folder: looked for ${resolve(abs, 'config.json')}`);
  }
  return abs;
}

/** Every dataset of a mixer: a local file or folder. */
export function checkDatasetPaths(mixer: Record<string, number>, key = 'dataset_mixer'): void {
  for (const name of Object.keys(mixer)) {
    const abs = resolve(name);
    if (!existsSync(abs)) {
      throw new RecipeError(`The dataset ${name} of ${key} was not found: looked for ${abs} (a folder of Parquet/JSON/JSONL files or one such file)`);
    }
  }
}
