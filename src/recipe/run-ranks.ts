// A recipe run as one rank of several: joins the process group the launch variables describe, trains with the
// data-parallel strategy, and leaves the group. Ranks other than 0 keep quiet: rank 0 speaks for the run.
import { DataParallel, SHARDING_VALUES, type TrainParallel } from '../parallel/data-parallel.js';
import type { RankEnv } from '../parallel/env.js';
import { assertBackendAvailable, ProcessGroup } from '../parallel/group.js';
import { ArgumentError } from '../errors.js';
import type { TrainHooks, TrainResult } from '../train/trainer.js';
import { renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { RecipeValues } from './values.js';
import { resolveDevice } from '../tensor/device.js';
import { cuda } from '../tensor/runtime.js';
import type { RunSettings } from './settings.js';

/** The recipe's `sharding` key, checked. */
export function shardingOf(s: RunSettings): (typeof SHARDING_VALUES)[number] {
  const sharding = new RecipeValues(s.recipe).oneOf('sharding', SHARDING_VALUES);
  if (sharding !== 'none' && !['adamw_torch', 'adamw', 'adam'].includes(s.trainer.optim)) {
    throw new ArgumentError(`sharding: ${sharding} supports optim adamw_torch, adamw and adam, not ${s.trainer.optim}`);
  }
  if (sharding === 'full') {
    if (!s.trainer.gradientCheckpointing) {
      throw new ArgumentError('sharding: full needs gradient_checkpointing: true (each layer is gathered again and recomputed in the backward pass)');
    }
    if (s.task === 'preference' && s.reference.strategy === 'adapter') {
      throw new ArgumentError('sharding: full needs reference_strategy copy or precomputed, not adapter (the reference pass would run inside the policy\'s sharded pass)');
    }
  }
  return sharding;
}

/** Joins the group of `env` (its timeout bounds the wait for the others) and returns the strategy. */
export function joinRanks(env: RankEnv, s: RunSettings): DataParallel {
  const sharding = shardingOf(s);
  const capMb = new RecipeValues(s.recipe).number('ddp_bucket_cap_mb');
  if (!(capMb > 0) || !Number.isFinite(capMb)) throw new ArgumentError(`ddp_bucket_cap_mb must be a number of MiB > 0, not ${capMb}`);
  return new DataParallel(joinGroup(env), { sharding, bucketBytes: Math.max(1, Math.round(capMb * 2 ** 20)) });
}

/** The process group of `env`. */
export function joinGroup(env: RankEnv): ProcessGroup {
  assertBackendAvailable(env.backend);
  return ProcessGroup.init({
    masterAddr: env.masterAddr, masterPort: env.masterPort, rank: env.rank, worldSize: env.worldSize, timeoutMs: env.timeoutMs, storeTimeoutMs: env.initTimeoutMs,
    backend: env.backend, externalStore: env.agentStore, prefix: `bfpo/${env.restart}/`,
    iface: process.env.GLOO_SOCKET_IFNAME || undefined,
  });
}

/**
 * A rank on a CUDA machine computes on the device of its LOCAL_RANK (`device: cuda` or `auto`; ranks share the
 * devices round-robin when there are more ranks than devices).
 */
export function rankDevice(env: RankEnv, s: RunSettings): RunSettings {
  if (s.device !== 'auto' && s.device !== 'cuda') return s;
  if (!resolveDevice(s.device, 'device').startsWith('cuda')) return s;
  return { ...s, device: `cuda:${env.localRank % Math.max(1, cuda.deviceCount())}` as RunSettings['device'] };
}

/** `bfpo logps` as one rank: the batches split over the ranks, the merged table stored by rank 0. */
export async function logpsAsRank(env: RankEnv, s: RunSettings, run: (s: RunSettings, group: ProcessGroup) => Promise<void>): Promise<void> {
  const group = joinGroup(env);
  try {
    await asRank({ isMain: group.rank === 0 }, () => run(rankDevice(env, s), group));
  } finally {
    group.destroy();
  }
}

/** Runs `body` with this rank's stderr silenced unless it is rank 0 (errors are thrown, and printed afterwards). */
export async function asRank<T>(par: Pick<TrainParallel, 'isMain'>, body: () => Promise<T>): Promise<T> {
  if (par.isMain) return body();
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return await body();
  } finally {
    process.stderr.write = write;
  }
}

/** `runTraining` as one rank of the group `env` describes. */
export async function runTrainingAsRank(
  env: RankEnv, s: RunSettings, run: (s: RunSettings, hooks: TrainHooks) => Promise<TrainResult | null>,
): Promise<TrainResult | null> {
  const par = joinRanks(env, s);
  // The run's identity records the global batch under per_device_train_batch_size, as one process with that batch
  // would: the data order and the steps depend on it, not on how it is split, so a checkpoint resumes at any world
  // size (one process included) that forms the same global batch, and is refused, naming the key, otherwise.
  const runConfig = { ...s.trainer.runConfig, per_device_train_batch_size: s.batch.train * env.worldSize };
  const settings: RunSettings = { ...rankDevice(env, s), trainer: { ...s.trainer, runConfig } };
  try {
    const result = await asRank(par, () => run(settings, { parallel: par }));
    if (par.isMain && result && !result.alreadyComplete) writeCommStats(s.trainer.outputDir, par, result.globalStep - stepOf(result.resumedFrom));
    return result;
  } finally {
    par.dispose();
    par.group.destroy();
  }
}

function stepOf(checkpoint: string | null): number {
  const m = checkpoint ? /^checkpoint-(\d+)$/.exec(basename(checkpoint)) : null;
  return m ? Number(m[1]) : 0;
}

/**
 * `comm_stats.json` in the output folder: what rank 0 sent through the collectives in this run's steps (gradient
 * all-reduce or reduce-scatter, the small agreement and metric reductions, parameter broadcasts), in all and per
 * optimizer step, and how many parameter and gradient elements each rank keeps.
 */
function writeCommStats(outputDir: string, par: DataParallel, steps: number): void {
  const st = par.group.stats;
  const per = (x: number): number => (steps > 0 ? x / steps : 0);
  const file = join(outputDir, 'comm_stats.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify({
    world_size: par.worldSize, backend: par.group.backend, sharding: par.sharding, steps,
    allreduce_calls: st.allreduceCalls, allreduce_bytes: st.allreduceBytes, allreduce_seconds: st.allreduceMs / 1000,
    broadcast_bytes: st.broadcastBytes, broadcast_seconds: st.broadcastMs / 1000,
    reduce_scatter_calls: st.reduceScatterCalls, reduce_scatter_bytes: st.reduceScatterBytes,
    reduce_scatter_sent_bytes: st.reduceScatterSentBytes, reduce_scatter_seconds: st.reduceScatterMs / 1000,
    gradient_bytes: par.gradientBytes, gradient_bytes_per_step: per(par.gradientBytes),
    allreduce_bytes_per_step: per(st.allreduceBytes), broadcast_bytes_per_step: per(st.broadcastBytes),
    reduce_scatter_bytes_per_step: per(st.reduceScatterBytes), reduce_scatter_sent_bytes_per_step: per(st.reduceScatterSentBytes),
    allreduce_seconds_per_step: per(st.allreduceMs / 1000), allreduce_calls_per_step: per(st.allreduceCalls),
    reduce_scatter_calls_per_step: per(st.reduceScatterCalls), reduce_scatter_seconds_per_step: per(st.reduceScatterMs / 1000),
    owned_elements_per_rank: par.ownedElementsPerRank, gradient_elements_held: par.heldGradientElements,
    parameter_elements_held_max: par.parameterShards?.maxHeldElements ?? null,
    reference_elements_held_max: par.referenceShards?.maxHeldElements ?? null,
    // Gradient buckets whose all-reduce started during the backward pass, of all the buckets the overlap reduced.
    overlap_buckets_early: par.overlapStats.launchedEarly, overlap_buckets: par.overlapStats.buckets,
  }, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
