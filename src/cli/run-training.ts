// `bfpo sft`, `bfpo train` and `bfpo logps`: the recipe layer resolves the recipe into checked settings, then runs them.
import { prepareLogpsRecipe, prepareRecipe } from '../recipe/prepare.js';

export async function runFromArgs(task: 'sft' | 'preference', args: string[]): Promise<void> {
  const settings = prepareRecipe(task, args);
  const { runTraining } = await import('../recipe/run.js');
  await runTraining(settings);
}

export async function runLogps(args: string[]): Promise<void> {
  const settings = prepareLogpsRecipe(args);
  const { runLogpsCache } = await import('../recipe/run.js');
  await runLogpsCache(settings);
}
