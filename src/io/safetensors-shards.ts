// Sharded safetensors checkpoints: `model-0000i-of-0000n.safetensors` files plus `model.safetensors.index.json`,
// whose `weight_map` names the shard of each tensor (the layout Hugging Face `save_pretrained` writes).
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { dtypeSize } from '../tensor/dtype.js';
import { expected } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { FormatError } from './errors.js';
import { type PendingFile, pendingFile, writeFiles, writeFilesAsync } from './atomic.js';
import { type ByteReader, runReader, runReaderAsync } from './byte-reads.js';
import { type LoadOptions, rawFromTensor, safetensorsFile, tensorsReader } from './safetensors.js';

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

/** The parsed index file: shard file per tensor name, plus its metadata (e.g. `total_size`). */
export interface ShardIndex {
  metadata: Record<string, unknown>;
  weightMap: Record<string, string>;
}

/**
 * Folders a shard may really live in: the model folder, and for a Hugging Face hub cache snapshot
 * (`<repo>/snapshots/<revision>/`, whose files link to `<repo>/blobs/`) that repository's blobs folder.
 */
function allowedShardHomes(indexPath: string): string[] {
  const folder = realpathSync(dirname(indexPath));
  const lexical = resolve(dirname(indexPath));
  const homes = [folder];
  const blobs = join(dirname(dirname(lexical)), 'blobs');
  if (basename(dirname(lexical)) === 'snapshots' && existsSync(blobs)) homes.push(realpathSync(blobs));
  return homes;
}

/** Reads and checks `model.safetensors.index.json`. */
export function readShardIndex(indexPath: string): ShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new FormatError(indexPath, `is not a readable JSON file: ${(err as Error).message}`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new FormatError(indexPath, 'must be an object mapping tensor names to shard files', 'weight_map');
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== 'string' || v.includes('/') || v.includes('\\') || v === '..' || v === '.' || v === '' || v.includes('\0') || isAbsolute(v)) {
      throw new FormatError(indexPath, `shard must be a file name in the same folder, got ${JSON.stringify(v)}`, k);
    }
  }
  const metadata = (json as { metadata?: unknown }).metadata;
  return { metadata: metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>) : {}, weightMap: map as Record<string, string> };
}

/**
 * Loads a sharded checkpoint from its index file (or the folder holding `model.safetensors.index.json`). Every
 * tensor the index names must be in its shard; shards are opened one at a time.
 *
 * @example
 * const weights = loadShardedSafetensors('path/to/model', { dtype: 'bfloat16' });
 */
export function loadShardedSafetensors(indexOrFolder: string, opts: LoadOptions = {}): Map<string, Tensor> {
  return runReader(shardedReader(indexOrFolder, opts));
}

/** `loadShardedSafetensors` with the shards' bytes read off the event loop (Node's thread pool). */
export function loadShardedSafetensorsAsync(indexOrFolder: string, opts: LoadOptions = {}): Promise<Map<string, Tensor>> {
  return runReaderAsync(shardedReader(indexOrFolder, opts));
}

/** The reader of a sharded checkpoint: the index checked first, then each shard's tensors by the shared loop. */
export function* shardedReader(indexOrFolder: string, opts: LoadOptions = {}): ByteReader<Map<string, Tensor>> {
  return yield* tensorsReader(shardPlan(indexOrFolder).map(({ path, names, index }) => ({
    path, names, missing: (name: string) => new FormatError(path, `tensor is listed in ${basename(index)} but missing from this shard`, name),
  })), opts);
}

/** The shard files of a sharded checkpoint (each checked to exist inside the model folder) and the tensors each holds. */
function shardPlan(indexOrFolder: string): { path: string; names: string[]; index: string }[] {
  const index = indexOrFolder.endsWith('.json') ? indexOrFolder : join(indexOrFolder, SAFETENSORS_INDEX);
  if (!existsSync(index)) throw new FormatError(index, 'index file not found');
  const { weightMap } = readShardIndex(index);
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  return [...byShard].map(([shard, names]) => {
    const path = join(dirname(index), shard);
    if (!existsSync(path)) throw new FormatError(index, `shard file ${shard} named in weight_map does not exist`, names[0]);
    const real = realpathSync(path);
    if (!allowedShardHomes(index).includes(dirname(real))) {
      throw new FormatError(index, `shard file ${shard} is a link to ${real}, outside the model folder; refusing to read it`, names[0]);
    }
    return { path, names, index };
  });
}

/** Options for `saveShardedSafetensors`. */
export interface ShardOptions {
  /** Largest shard in bytes (a tensor bigger than this gets a shard of its own). Default 5 GB, as Hugging Face. */
  maxShardSize?: number | string;
  /** Written into each shard's `__metadata__`; Hugging Face expects `{ format: 'pt' }`. */
  metadata?: Record<string, string>;
}

/** Parses sizes such as 5e9, '5GB', '500MB', '2GiB'. */
export function parseSize(size: number | string): number {
  if (typeof size === 'number' && Number.isFinite(size) && size > 0) return size;
  const m = typeof size === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$/i.exec(size) : null;
  if (!m) throw expected("a positive byte count or a size such as '5GB'", 'maxShardSize', size);
  const units: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
  return Math.floor(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]);
}

/**
 * Saves tensors into `folder` as Hugging Face does: one `model.safetensors` when everything fits in
 * `maxShardSize`, otherwise `model-00001-of-0000N.safetensors` files plus `model.safetensors.index.json`.
 * Every file is written atomically. Returns the names of the files written.
 *
 * @example
 * saveShardedSafetensors('out', model.stateDict(), { maxShardSize: '2GB', metadata: { format: 'pt' } });
 */
export function saveShardedSafetensors(folder: string, tensors: Record<string, Tensor> | Map<string, Tensor>, opts: ShardOptions = {}): string[] {
  const files = shardedFiles(folder, tensors, opts);
  writeFiles(files);
  return files.map((f) => basename(f.path));
}

/** `saveShardedSafetensors` written through node:fs/promises (the event loop runs while the shards are written). */
export async function saveShardedSafetensorsAsync(folder: string, tensors: Record<string, Tensor> | Map<string, Tensor>, opts: ShardOptions = {}): Promise<string[]> {
  const files = shardedFiles(folder, tensors, opts);
  await writeFilesAsync(files);
  return files.map((f) => basename(f.path));
}

/** The files `saveShardedSafetensors` writes, in order (shards, then the index when there is more than one). */
export function shardedFiles(folder: string, tensors: Record<string, Tensor> | Map<string, Tensor>, opts: ShardOptions = {}): PendingFile[] {
  const max = parseSize(opts.maxShardSize ?? 5e9);
  const entries = (tensors instanceof Map ? [...tensors] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const shards: [string, Tensor][][] = [];
  let current: [string, Tensor][] = [];
  let size = 0;
  let total = 0;
  for (const entry of entries) {
    const bytes = entry[1].numel() * dtypeSize(entry[1].dtype);
    if (current.length > 0 && size + bytes > max) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(entry);
    size += bytes;
    total += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  const file = (name: string, part: [string, Tensor][]): PendingFile =>
    safetensorsFile(join(folder, name), Object.fromEntries(part.map(([k, t]) => [k, rawFromTensor(t)])), opts.metadata);
  if (shards.length === 1) return [file('model.safetensors', shards[0])];
  const pad = (i: number): string => String(i).padStart(5, '0');
  const names = shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  shards.forEach((part, i) => {
    for (const [k] of part) weightMap[k] = names[i];
  });
  const index = JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n';
  return [...shards.map((part, i) => file(names[i], part)), pendingFile(join(folder, SAFETENSORS_INDEX), index)];
}
