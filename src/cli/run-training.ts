// `bfpo sft`, `bfpo train` and `bfpo logps`: the recipe layer resolves the recipe into checked settings, then runs them.
// With --nproc_per_node (or torchrun's launch variables) the run is data parallel over several processes.
import { prepareLogpsRecipe, prepareRecipe } from '../recipe/prepare.js';
import { launchRanks, takeLaunchFlags, wantsLaunch } from './launch.js';

const say = (t: string): void => { process.stderr.write(`bfpo: ${t}\n`); };

/** `bfpo sft|train RECIPE.yaml [--key=value ...] [--dry-run] [--nproc_per_node=N ...]`: runs the recipe, or with --dry-run only checks and reports it. */
export async function runFromArgs(task: 'sft' | 'preference', args: string[]): Promise<void> {
  const { flags, rest } = takeLaunchFlags(args);
  const isDry = (a: string): boolean => a === '--dry-run' || a === '--dry_run';
  const settings = prepareRecipe(task, rest.filter((a) => !isDry(a)));
  if (rest.some(isDry)) {
    const { dryRun } = await import('../recipe/dry-run.js');
    // The estimate is per rank: the ranks the launch flags (or a launcher's WORLD_SIZE) ask for.
    const ranks = flags.nprocPerNode !== null ? flags.nprocPerNode * flags.nnodes : Number(process.env.WORLD_SIZE ?? 1) || 1;
    process.stdout.write(await dryRun(settings, (t) => process.stderr.write(`bfpo: ${t}\n`), { ranks }));
    return;
  }
  if (wantsLaunch(flags)) {
    const { shardingOf } = await import('../recipe/run-ranks.js');
    shardingOf(settings);
    const { assertBackendAvailable } = await import('../parallel/group.js');
    assertBackendAvailable(flags.backend === 'nccl' ? 'nccl' : 'gloo');
    const code = await launchRanks(task === 'sft' ? 'sft' : 'train', rest, flags, say);
    if (code !== 0) process.exitCode = code;
    return;
  }
  const { rankEnv } = await import('../parallel/env.js');
  const env = rankEnv();
  const { runTraining } = await import('../recipe/run.js');
  if (env) {
    const { runTrainingAsRank } = await import('../recipe/run-ranks.js');
    await runTrainingAsRank(env, settings, runTraining);
    return;
  }
  await runTraining(settings);
}

export async function runLogps(args: string[]): Promise<void> {
  const { flags, rest } = takeLaunchFlags(args);
  const settings = prepareLogpsRecipe(rest);
  if (wantsLaunch(flags)) {
    const { assertBackendAvailable } = await import('../parallel/group.js');
    assertBackendAvailable(flags.backend === 'nccl' ? 'nccl' : 'gloo');
    const code = await launchRanks('logps', rest, flags, say);
    if (code !== 0) process.exitCode = code;
    return;
  }
  const { rankEnv } = await import('../parallel/env.js');
  const env = rankEnv();
  const { runLogpsCache } = await import('../recipe/run.js');
  if (env) {
    const { logpsAsRank } = await import('../recipe/run-ranks.js');
    await logpsAsRank(env, settings, runLogpsCache);
    return;
  }
  await runLogpsCache(settings);
}
