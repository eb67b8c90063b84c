// `bfpo sft`, `bfpo train` and `bfpo logps`: the recipe layer checks the recipe, then runs it.
import { prepareLogpsRecipe, prepareRecipe } from '../recipe/prepare.js';

export async function runFromArgs(task: 'sft' | 'preference', args: string[]): Promise<void> {
  const recipe = prepareRecipe(task, args);
  const { runTraining } = await import('../recipe/run.js');
  await runTraining(task, recipe);
}

export async function runLogps(args: string[]): Promise<void> {
  const recipe = prepareLogpsRecipe(args);
  const { runLogpsCache } = await import('../recipe/run.js');
  await runLogpsCache(recipe);
}
