// `bfpo sft`, `bfpo train` and `bfpo logps`: the recipe layer resolves the recipe into checked settings, then runs them.
import { prepareLogpsRecipe, prepareRecipe } from '../recipe/prepare.js';

/** `bfpo sft|train RECIPE.yaml [--key=value ...] [--dry-run]`: runs the recipe, or with --dry-run only checks and reports it. */
export async function runFromArgs(task: 'sft' | 'preference', args: string[]): Promise<void> {
  const isDry = (a: string): boolean => a === '--dry-run' || a === '--dry_run';
  const settings = prepareRecipe(task, args.filter((a) => !isDry(a)));
  if (args.some(isDry)) {
    const { dryRun } = await import('../recipe/dry-run.js');
    process.stdout.write(await dryRun(settings, (t) => process.stderr.write(`bfpo: ${t}\n`)));
    return;
  }
  const { runTraining } = await import('../recipe/run.js');
  await runTraining(settings);
}

export async function runLogps(args: string[]): Promise<void> {
  const settings = prepareLogpsRecipe(args);
  const { runLogpsCache } = await import('../recipe/run.js');
  await runLogpsCache(settings);
}
