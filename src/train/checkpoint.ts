// Checkpoint folders `output_dir/checkpoint-<step>/`: written under a temporary name and renamed, so a folder with
// that name is always complete; checksums of its files in the trainer state; rotation to `save_total_limit`;
// finding the last intact one; refusing another run's.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.js';
import { join, relative } from 'node:path';
import { BfpoError } from '../errors.js';

export const TRAINER_STATE = 'trainer_state.json';
export const RUN_CONFIG = 'run_config.json';
/** The manifest of a checkpoint whose optimizer state is stored as one shard per rank (see optimizer-shards.ts). */
export const SHARD_MANIFEST = 'optimizer_shards.json';
const CHECKPOINT = /^checkpoint-(\d+)$/;

/** Raised when an output folder holds checkpoints of a run whose configuration differs from this one. */
export class CheckpointMismatchError extends BfpoError {}

/** Raised when a checkpoint or the final model cannot be written (disk full, permissions); earlier ones stay intact. */
export class CheckpointWriteError extends BfpoError {}

/** Raised when a checkpoint's files do not match the checksums its trainer state recorded. */
export class CheckpointDamagedError extends BfpoError {}

/** Size and SHA-256 of one checkpoint file. */
export interface FileChecksum { bytes: number; sha256: string }

function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Size and SHA-256 of one file. */
export function fileChecksum(path: string): FileChecksum {
  return { bytes: statSync(path).size, sha256: sha256File(path) };
}

/** Size and SHA-256 of every file under `dir` except the trainer state, keyed by relative path. */
export function checksumFiles(dir: string): Record<string, FileChecksum> {
  return Object.fromEntries(checkpointFiles(dir).map(([rel, p, bytes]) => [rel, { bytes, sha256: sha256File(p) }]));
}

/** `checksumFiles` with the files read through node:fs/promises, 1 MiB at a time. */
export async function checksumFilesAsync(dir: string): Promise<Record<string, FileChecksum>> {
  const out: Record<string, FileChecksum> = {};
  for (const [rel, p, bytes] of checkpointFiles(dir)) {
    const hash = createHash('sha256');
    const fh = await open(p, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let n; (n = (await fh.read(buf, 0, buf.length, null)).bytesRead) > 0;) hash.update(buf.subarray(0, n));
    } finally {
      await fh.close();
    }
    out[rel] = { bytes, sha256: hash.digest('hex') };
  }
  return out;
}

/** [relative path, path, size] of every file under `dir` but the trainer state, in sorted order. */
function checkpointFiles(dir: string): [string, string, number][] {
  const out: [string, string, number][] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (relative(dir, p) !== TRAINER_STATE) out.push([relative(dir, p), p, st.size]);
    }
  };
  walk(dir);
  return out;
}

/**
 * What is wrong with the checkpoint at `dir` (unreadable trainer state, a missing, truncated or altered file), or
 * null when it is intact. Checkpoints written without checksums are only checked for a readable trainer state.
 */
export function checkpointProblem(dir: string): string | null {
  let state: { files?: Record<string, FileChecksum> };
  try {
    state = JSON.parse(readFileSync(join(dir, TRAINER_STATE), 'utf8'));
  } catch (err) {
    return `${TRAINER_STATE} is unreadable (${(err as Error).message})`;
  }
  const checked = new Map<string, FileChecksum>();
  const check = (name: string, want: FileChecksum): string | null => {
    const p = join(dir, name);
    if (!existsSync(p)) return `${name} is missing`;
    const bytes = statSync(p).size;
    if (bytes !== want.bytes) return `${name} has ${bytes} bytes, ${want.bytes} were written`;
    const got = checked.get(name) ?? { bytes, sha256: sha256File(p) };
    checked.set(name, got);
    if (got.sha256 !== want.sha256) return `${name} has changed since it was written (SHA-256 differs)`;
    return null;
  };
  for (const [name, want] of Object.entries(state.files ?? {})) {
    const problem = check(name, want);
    if (problem) return problem;
  }
  return existsSync(join(dir, SHARD_MANIFEST)) ? shardManifestProblem(dir, check) : null;
}

/**
 * What is wrong with a sharded checkpoint's manifest: unreadable, not one shard per rank of its world size, the
 * parameters not split into disjoint shards covering them all, or a shard file missing or not the one its rank
 * wrote (the checksums the rank computed). Null when it is complete.
 */
function shardManifestProblem(dir: string, check: (name: string, want: FileChecksum) => string | null): string | null {
  let m: { world_size?: unknown; param_count?: unknown; shards?: { rank: number; params: number[]; files: Record<string, FileChecksum> }[] };
  try {
    m = JSON.parse(readFileSync(join(dir, SHARD_MANIFEST), 'utf8'));
  } catch (err) {
    return `${SHARD_MANIFEST} is unreadable (${(err as Error).message})`;
  }
  const world = m.world_size;
  const count = m.param_count;
  if (!Number.isInteger(world) || (world as number) < 1 || !Number.isInteger(count) || !Array.isArray(m.shards)) {
    return `${SHARD_MANIFEST} lacks world_size, param_count or shards`;
  }
  const ranks = m.shards.map((s) => s.rank).sort((a, b) => a - b);
  if (ranks.length !== world || ranks.some((r, i) => r !== i)) return `${SHARD_MANIFEST} lists the shards of ranks [${ranks.join(', ')}], not one for each of ${world} ranks`;
  const seen = new Array<number>(count as number).fill(0);
  for (const sh of m.shards) for (const i of sh.params) if (Number.isInteger(i) && i >= 0 && i < seen.length) seen[i]!++; else return `${SHARD_MANIFEST}: rank ${sh.rank}'s shard holds parameter ${i}, outside 0..${seen.length - 1}`;
  const bad = seen.findIndex((n) => n !== 1);
  if (bad >= 0) return `${SHARD_MANIFEST}: parameter ${bad} is held by ${seen[bad]} shards, not 1`;
  for (const sh of m.shards) {
    for (const [name, want] of Object.entries(sh.files ?? {})) {
      const problem = check(name, want);
      if (problem) return `rank ${sh.rank}'s optimizer shard: ${problem}`;
    }
    if (Object.keys(sh.files ?? {}).length === 0) return `${SHARD_MANIFEST} lists no files for rank ${sh.rank}'s shard`;
  }
  return null;
}

/**
 * The newest intact checkpoint of `outputDir`, or null when there is none; damaged newer ones are skipped and
 * `note` says which and why. Throws CheckpointDamagedError when checkpoints exist but none is intact.
 */
export function lastIntactCheckpoint(outputDir: string, note: (text: string) => void): string | null {
  const all = listCheckpoints(outputDir).reverse();
  const damaged: string[] = [];
  for (const { dir } of all) {
    const problem = checkpointProblem(dir);
    if (problem === null) {
      if (damaged.length > 0) note(`falling back to ${dir}, the newest intact checkpoint`);
      return dir;
    }
    damaged.push(dir);
    note(`${dir} is damaged: ${problem}; it is not resumed from`);
  }
  if (damaged.length > 0) {
    throw new CheckpointDamagedError(`Every checkpoint in ${outputDir} is damaged (${damaged.join(', ')}); ` +
      'move them away to start over, or restore them from a backup');
  }
  return null;
}

/** Complete checkpoints in `outputDir`, oldest first. */
export function listCheckpoints(outputDir: string): { step: number; dir: string }[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir)
    .map((name) => ({ name, m: CHECKPOINT.exec(name) }))
    .filter(({ name, m }) => m && existsSync(join(outputDir, name, TRAINER_STATE)))
    .map(({ name, m }) => ({ step: Number(m![1]), dir: join(outputDir, name) }))
    .sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint, or null. */
export function lastCheckpoint(outputDir: string): string | null {
  const all = listCheckpoints(outputDir);
  return all.length > 0 ? all[all.length - 1].dir : null;
}

/** Removes leftovers of an interrupted save or rotation (temporary and half-deleted folders, temporary files). */
export function removeStaleFolders(outputDir: string): void {
  if (!existsSync(outputDir)) return;
  for (const name of readdirSync(outputDir)) {
    if (name.startsWith('tmp-checkpoint-') || name.startsWith('trash-checkpoint-') || (/^\..+\.\d+\.\d+\.tmp$/.test(name) && !name.startsWith('.bfpo-run.lock'))) {
      rmSync(join(outputDir, name), { recursive: true, force: true });
    }
  }
}

function removeFolder(outputDir: string, name: string): void {
  const trash = join(outputDir, `trash-${name}`);
  rmSync(trash, { recursive: true, force: true });
  renameSync(join(outputDir, name), trash); // atomic: the checkpoint is gone, the files follow
  rmSync(trash, { recursive: true, force: true });
}

/**
 * Writes `checkpoint-<step>` through `write(tmpDir)` (which must write `trainer_state.json` last), renames it
 * into place, then deletes the oldest checkpoints beyond `totalLimit`.
 * @example saveCheckpoint('out', 100, (dir) => { saveModel(dir); writeState(dir); }, { totalLimit: 1 });
 */
export function saveCheckpoint(outputDir: string, step: number, write: (dir: string) => void, { totalLimit }: { totalLimit?: number | null } = {}): string {
  const { name, tmp } = startCheckpoint(outputDir, step);
  try {
    mkdirSync(tmp);
    write(tmp);
    writeJson(join(tmp, TRAINER_STATE), { ...writtenState(tmp), files: checksumFiles(tmp) });
  } catch (err) {
    throw failedCheckpoint(outputDir, name, tmp, err);
  }
  return placeCheckpoint(outputDir, name, tmp, totalLimit);
}

/**
 * `saveCheckpoint` with an asynchronous `write` and the checksums read through node:fs/promises, so the event loop
 * runs while a large checkpoint is written and checked.
 */
export async function saveCheckpointAsync(outputDir: string, step: number, write: (dir: string) => Promise<void>, { totalLimit }: { totalLimit?: number | null } = {}): Promise<string> {
  const { name, tmp } = startCheckpoint(outputDir, step);
  try {
    mkdirSync(tmp);
    await write(tmp);
    const state = writtenState(tmp);
    writeJson(join(tmp, TRAINER_STATE), { ...state, files: await checksumFilesAsync(tmp) });
  } catch (err) {
    throw failedCheckpoint(outputDir, name, tmp, err);
  }
  return placeCheckpoint(outputDir, name, tmp, totalLimit);
}

function startCheckpoint(outputDir: string, step: number): { name: string; tmp: string } {
  mkdirSync(outputDir, { recursive: true });
  const name = `checkpoint-${step}`;
  const tmp = join(outputDir, `tmp-${name}`);
  rmSync(tmp, { recursive: true, force: true });
  return { name, tmp };
}

/** The trainer state a checkpoint writer wrote into `tmp`. */
function writtenState(tmp: string): Record<string, unknown> {
  if (!existsSync(join(tmp, TRAINER_STATE))) throw new BfpoError(`A checkpoint writer must write ${TRAINER_STATE} into ${tmp}`);
  return JSON.parse(readFileSync(join(tmp, TRAINER_STATE), 'utf8')) as Record<string, unknown>;
}

/** Removes the partial checkpoint and says what failed and what is intact. */
function failedCheckpoint(outputDir: string, name: string, tmp: string, err: unknown): Error {
  rmSync(tmp, { recursive: true, force: true });
  if (err instanceof BfpoError && !(err as NodeJS.ErrnoException).code) return err;
  const previous = lastCheckpoint(outputDir);
  return new CheckpointWriteError(`Writing ${name} into ${outputDir} failed: ${(err as Error).message}. ` +
    `${previous ? `The previous checkpoint ${previous} is intact` : 'No earlier checkpoint exists'}; the partial one was removed. ` +
    `${(err as NodeJS.ErrnoException).code === 'ENOSPC' ? 'Free disk space' : 'Fix the cause'} and rerun the same command to resume.`);
}

/** Renames the complete `tmp` to `name`, then rotates to `totalLimit`. */
function placeCheckpoint(outputDir: string, name: string, tmp: string, totalLimit: number | null | undefined): string {
  if (existsSync(join(outputDir, name))) removeFolder(outputDir, name);
  renameSync(tmp, join(outputDir, name));
  if (totalLimit && totalLimit > 0) {
    const all = listCheckpoints(outputDir);
    for (const old of all.slice(0, Math.max(0, all.length - totalLimit))) removeFolder(outputDir, `checkpoint-${old.step}`);
  }
  return join(outputDir, name);
}

/** Keys whose values differ between two run configurations (ignoring `ignore`). */
export function configDifferences(saved: Record<string, unknown>, current: Record<string, unknown>, ignore: readonly string[] = []): string[] {
  const keys = new Set([...Object.keys(saved), ...Object.keys(current)]);
  return [...keys].filter((k) => !ignore.includes(k) && JSON.stringify(saved[k] ?? null) !== JSON.stringify(current[k] ?? null)).sort();
}

/**
 * Checks that the checkpoint at `dir` belongs to a run with this configuration, else explains the refusal.
 * @example assertSameRun('out/checkpoint-100', config, ['output_dir', 'logging_steps']);
 */
export function assertSameRun(dir: string, current: Record<string, unknown>, ignore: readonly string[] = []): void {
  const file = join(dir, RUN_CONFIG);
  if (!existsSync(file)) {
    throw new CheckpointMismatchError(`${dir} holds no ${RUN_CONFIG}, so it was not written by this trainer; ` +
      'choose another output_dir or move the folder away');
  }
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const diff = configDifferences(saved, current, ignore);
  if (diff.length > 0) {
    const shown = diff.slice(0, 8).map((k) => `${k}: ${JSON.stringify(saved[k] ?? null)} there, ${JSON.stringify(current[k] ?? null)} now`);
    throw new CheckpointMismatchError(`The output folder holds checkpoints of another run (${dir}); its configuration differs in ` +
      `${shown.join('; ')}${diff.length > 8 ? ` and ${diff.length - 8} more` : ''}. Resume with the same recipe, or choose another output_dir`);
  }
}

/** Writes JSON through a temporary file. */
export function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2));
}
