// Checkpoint folders `output_dir/checkpoint-<step>/`: written under a temporary name and renamed, so a folder with
// that name is always complete; rotation to `save_total_limit`; finding the last one; refusing another run's.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.js';
import { join } from 'node:path';
import { BfpoError } from '../errors.js';

export const TRAINER_STATE = 'trainer_state.json';
export const RUN_CONFIG = 'run_config.json';
const CHECKPOINT = /^checkpoint-(\d+)$/;

/** Raised when an output folder holds checkpoints of a run whose configuration differs from this one. */
export class CheckpointMismatchError extends BfpoError {}

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

/** Removes leftovers of an interrupted save or rotation (temporary and half-deleted folders). */
export function removeStaleFolders(outputDir: string): void {
  if (!existsSync(outputDir)) return;
  for (const name of readdirSync(outputDir)) {
    if (name.startsWith('tmp-checkpoint-') || name.startsWith('trash-checkpoint-')) {
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
  mkdirSync(outputDir, { recursive: true });
  const name = `checkpoint-${step}`;
  const tmp = join(outputDir, `tmp-${name}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  write(tmp);
  if (!existsSync(join(tmp, TRAINER_STATE))) throw new BfpoError(`A checkpoint writer must write ${TRAINER_STATE} into ${tmp}`);
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
