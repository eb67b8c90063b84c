// The registry of built-in lm-evaluation-harness tasks: each entry knows its hub dataset, the files it reads from a
// local copy in the hub's layout, and how to turn them into a task. Task families register themselves in one file each.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TaskDataError } from '../../errors.js';
import type { Task } from '../types.js';

/** One built-in lm-eval task. */
export interface LmEvalTaskEntry {
  /** The lm-eval task name, e.g. `truthfulqa_mc2`. */
  name: string;
  /** The Hugging Face dataset repository and configuration lm-eval 0.4.1 loads. */
  dataset: string;
  /** Candidate files, relative to the data folder, in the order tried (the hub repository's own paths). */
  files: string[];
  /** Builds the task from the first file found. */
  load(file: string, o: { limit?: number }): Promise<Task>;
}

const REGISTRY = new Map<string, LmEvalTaskEntry>();

/** Adds task entries (a family file calls this once). A name registered twice is a programming error. */
export function registerLmEvalTasks(...entries: LmEvalTaskEntry[]): void {
  for (const e of entries) {
    if (REGISTRY.has(e.name)) throw new Error(`lm-eval task ${e.name} is registered twice`);
    REGISTRY.set(e.name, e);
  }
}

/** The registered task names, sorted. */
export function lmEvalTaskNames(): string[] {
  return [...REGISTRY.keys()].sort();
}

/** The entry of a task name, or undefined. */
export function lmEvalTask(name: string): LmEvalTaskEntry | undefined {
  return REGISTRY.get(name);
}

/**
 * Loads a built-in lm-eval task from `dataDir`. A missing file is an error naming the folder and every file tried.
 *
 * @example const task = await loadLmEvalTask('truthfulqa_mc2', '/data/hf');
 */
export async function loadLmEvalTask(name: string, dataDir: string | undefined, o: { limit?: number } = {}): Promise<Task> {
  const entry = REGISTRY.get(name);
  if (!entry) throw new TaskDataError(name, null, null, `not a built-in lm-eval task (known: ${lmEvalTaskNames().join(', ')})`);
  const dir = dataDir ?? '.';
  for (const rel of entry.files) {
    const p = join(dir, rel);
    if (existsSync(p)) return entry.load(p, o);
  }
  throw new TaskDataError(join(dir, entry.files[0]), null, null,
    `missing: task ${name} reads dataset ${entry.dataset} from one of ${entry.files.map((f) => join(dir, f)).join(', ')} ` +
    '(download it from the Hugging Face hub into --data-dir; docs/eval.md names the repositories)');
}
