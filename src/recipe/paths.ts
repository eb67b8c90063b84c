// Checks that the model folder and the datasets a recipe names exist (local folders or the Hugging Face cache),
// saying where it looked.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveHubPath } from '../io/hf-cache.js';
import { BfpoError } from '../errors.js';
import { RecipeError } from './recipe.js';

function resolveOrExplain(path: string, kind: 'model' | 'dataset', key: string, revision?: string): string {
  try {
    return resolve(resolveHubPath(path, kind, { revision, key }));
  } catch (e) {
    if (e instanceof BfpoError) throw new RecipeError(e.message);
    throw e;
  }
}

/** The model folder (a local path, or a repo id found in the Hugging Face cache): config.json, or a PEFT adapter's adapter_config.json. */
export function checkModelPath(path: string, key = 'model_name_or_path', revision?: string): string {
  const abs = resolveOrExplain(path, 'model', key, revision);
  if (!statSync(abs).isDirectory() || !(existsSync(resolve(abs, 'config.json')) || existsSync(resolve(abs, 'adapter_config.json')))) {
    throw new RecipeError(`${key} must be a Hugging Face model folder or a PEFT adapter folder: looked for ${resolve(abs, 'config.json')} and adapter_config.json`);
  }
  return abs;
}

/** Every dataset of a mixer: a local file or folder, or a dataset repo id found in the Hugging Face cache. */
export function checkDatasetPaths(mixer: Record<string, number>, key = 'dataset_mixer'): void {
  for (const name of Object.keys(mixer)) resolveOrExplain(name, 'dataset', key);
}
