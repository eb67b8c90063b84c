// Sharded optimizer state in a checkpoint: with `sharding: optimizer` each rank writes the state of the parameters
// it owns (`optimizer-shard-<r>-of-<W>.json` and `-tensors.{bin,json}`), and rank 0 writes the manifest
// (`optimizer_shards.json`: world size, which parameters each shard holds, the shard files' checksums) once every
// rank has written its shard. Loading at any world size reads, from whichever shards hold them, exactly the
// parameters this process now owns (all of them in one process).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BfpoError } from '../errors.js';
import { writeFiles } from '../io/atomic.js';
import type { OptimizerStateDict, ParamState } from '../optim/optimizer.js';
import { Tensor } from '../tensor/tensor.js';
import { fileChecksum, SHARD_MANIFEST, writeJson, type FileChecksum } from './checkpoint.js';
import { loadOptimizer, readStateEntries, stateDictFiles, type AnyOptimizer } from './optimizers.js';
import type { MasterWeights } from './precision.js';
import { readTensors } from './tensor-store.js';

/** An optimizer whose state is split over ranks (parallel/zero.ts's ShardedOptimizer). */
export interface ShardableOptimizer {
  readonly ownedIndices: readonly number[];
  ownedStateDict(): OptimizerStateDict<{ lr: number }>;
}

/** Whether `opt` keeps only its rank's part of the state. */
export function isShardable(opt: unknown): opt is ShardableOptimizer & AnyOptimizer {
  return typeof (opt as Partial<ShardableOptimizer>).ownedStateDict === 'function' && Array.isArray((opt as Partial<ShardableOptimizer>).ownedIndices);
}

/** One rank's shard as the manifest records it. */
export interface ShardRecord {
  rank: number;
  /** Indices of the parameters (in the trainable-parameter order) whose state the shard holds. */
  params: number[];
  /** The shard's files: size and SHA-256 as the rank wrote them. */
  files: Record<string, FileChecksum>;
}

/** The manifest file's content. */
export interface ShardManifest {
  format: 'bfpo-optimizer-shards/1';
  world_size: number;
  param_count: number;
  /** The trainable parameters' names, in index order. */
  param_names: string[];
  shards: ShardRecord[];
}

/** The path (without extension) of rank `rank`'s shard among `world`. */
export function shardBase(dir: string, rank: number, world: number): string {
  return join(dir, `optimizer-shard-${rank}-of-${world}`);
}

/** Writes this rank's shard into `dir` and returns what the manifest records of it. */
export function writeOwnShard(dir: string, rank: number, world: number, opt: ShardableOptimizer): ShardRecord {
  const base = shardBase(dir, rank, world);
  const files = stateDictFiles(opt.ownedStateDict(), base);
  writeFiles(files);
  const name = (p: string) => p.slice(dir.length + 1);
  return { rank, params: [...opt.ownedIndices], files: Object.fromEntries(files.map((f) => [name(f.path), fileChecksum(f.path)])) };
}

/** Writes the manifest (rank 0, after every rank wrote its shard). */
export function writeShardManifest(dir: string, paramNames: string[], shards: ShardRecord[]): void {
  const m: ShardManifest = {
    format: 'bfpo-optimizer-shards/1', world_size: shards.length, param_count: paramNames.length, param_names: paramNames,
    shards: [...shards].sort((a, b) => a.rank - b.rank),
  };
  writeJson(join(dir, SHARD_MANIFEST), m);
}

/**
 * Restores the optimizer state (and bf16 masters) of checkpoint `dir` into `opt`: from the per-rank shards when
 * the checkpoint has a manifest, else from the gathered `optimizer` files (and `master_weights`). A sharded
 * optimizer reads only the parameters it owns; a plain one reads them all. `paramNames` must match the checkpoint's.
 */
export function restoreOptimizer(dir: string, opt: AnyOptimizer, masters: MasterWeights | null, paramNames: string[]): void {
  const manifestPath = join(dir, SHARD_MANIFEST);
  if (!existsSync(manifestPath)) {
    if (masters) {
      const t = readTensors(join(dir, 'master_weights'));
      masters.load(masters.master.map((_, i) => t.get(String(i)) as Tensor));
      for (const v of t.values()) v.dispose();
    }
    if (!isShardable(opt)) {
      loadOptimizer(opt, join(dir, 'optimizer'));
      return;
    }
    loadOwned(opt, paramNames.length, (wanted) => {
      const part = readStateEntries(join(dir, 'optimizer'), wanted);
      if (part.paramCount !== paramNames.length) {
        disposeEntries(part.entries);
        throw new BfpoError(`${join(dir, 'optimizer.json')} holds the optimizer state of ${part.paramCount} parameters, not of this run's ${paramNames.length} trainable parameters`);
      }
      return part;
    });
    return;
  }
  const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as ShardManifest;
  if (m.param_count !== paramNames.length || m.param_names.some((n, i) => n !== paramNames[i])) {
    throw new BfpoError(`${manifestPath} holds the optimizer state of ${m.param_count} parameters (${m.param_names.slice(0, 3).join(', ')}, ...), ` +
      `not of this run's ${paramNames.length} trainable parameters (${paramNames.slice(0, 3).join(', ')}, ...); resume with the same model and selected_layers`);
  }
  const holder = new Array<number>(m.param_count);
  for (const sh of m.shards) for (const i of sh.params) holder[i] = sh.rank;
  const wanted = isShardable(opt) ? [...opt.ownedIndices] : paramNames.map((_, i) => i);
  const read = (want: number[]) => {
    const byShard = new Map<number, number[]>();
    for (const i of want) byShard.set(holder[i]!, [...(byShard.get(holder[i]!) ?? []), i]);
    let groups: OptimizerStateDict<{ lr: number }>['groups'] | null = null;
    const entries = new Map<number, ParamState | null>();
    for (const [rank, idx] of byShard) {
      const part = readStateEntries(shardBase(dir, rank, m.world_size), idx);
      groups ??= part.groups;
      for (const [i, e] of part.entries) entries.set(i, e);
    }
    // A rank that owns nothing still takes the hyper-parameters (the learning rate's place in the schedule).
    groups ??= readStateEntries(shardBase(dir, 0, m.world_size), []).groups;
    return { groups, entries };
  };
  if (isShardable(opt)) {
    loadOwned(opt, m.param_count, read);
    return;
  }
  // One process (or unsharded ranks) from a sharded checkpoint: every parameter's state, masters apart.
  const { groups, entries } = read(wanted);
  try {
    const state = wanted.map((i) => {
      const e = entries.get(i) ?? null;
      if (!e || !('master' in e)) return e;
      const { master: _m, ...rest } = e;
      return Object.keys(rest).length > 0 ? rest : null;
    });
    if (masters) {
      const values = wanted.map((i) => entries.get(i)?.master);
      if (values.some((v) => !(v instanceof Tensor))) throw new BfpoError(`${manifestPath}: the shards hold no fp32 master weights, which bf16 training needs`);
      masters.load(values as Tensor[]);
    }
    opt.loadStateDict({ groups, state });
  } finally {
    disposeEntries(entries);
  }
}

/** Loads the owned entries into a sharded optimizer (the others stay null: it reads only its own). */
function loadOwned(opt: ShardableOptimizer & AnyOptimizer, n: number, read: (wanted: number[]) => { groups: OptimizerStateDict<{ lr: number }>['groups']; entries: Map<number, ParamState | null> }): void {
  const { groups, entries } = read([...opt.ownedIndices]);
  try {
    const state = Array.from({ length: n }, (_, i) => entries.get(i) ?? null);
    opt.loadStateDict({ groups, state });
  } finally {
    disposeEntries(entries);
  }
}

function disposeEntries(entries: Map<number, ParamState | null>): void {
  for (const e of entries.values()) for (const v of Object.values(e ?? {})) if (v instanceof Tensor) v.dispose();
}
