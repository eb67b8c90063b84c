// Builds the model, data and reference a recipe describes and runs the training loop.
import { BfpoError } from '../tensor/errors.js';
import type { Recipe } from './recipe.js';

export async function runTraining(task: 'sft' | 'preference', recipe: Recipe): Promise<void> {
  throw new BfpoError(`Loading ${recipe.values.model_name_or_path} for ${task} needs the models and data layers`);
}

export async function runLogpsCache(recipe: Recipe): Promise<void> {
  throw new BfpoError(`Loading ${recipe.values.model_name_or_path} needs the models and data layers`);
}
