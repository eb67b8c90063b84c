// The output folder's manifest: every model and task ever evaluated into it, so the report covers every stored
// result, not only the tasks and models of the latest run.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { TaskDataError } from './errors.js';
import type { ModelSource } from './runner.js';
import type { JudgeInput, Task } from './tasks/types.js';

/** What the summary needs of a task: its kind, sample ids and how it is scored. */
export interface TaskShape {
  name: string;
  kind: Task['kind'];
  samples: { id: string }[];
  /** The helpfulness metric: acc / acc_norm for multiple choice, a truthfulqa_gen metric name for generation. */
  metric?: string;
  scoring?: 'mc2' | 'crows-pairs' | 'truthfulqa';
  judgeInput?: JudgeInput;
}

/** The manifest file's content. */
export interface Manifest {
  models: ModelSource[];
  tasks: TaskShape[];
}

/** What the manifest records of a task. */
export const shapeOf = (t: Task): TaskShape => ({
  name: t.name, kind: t.kind, samples: t.samples.map((s) => ({ id: s.id })),
  ...(t.kind === 'multiple-choice' || t.kind === 'generation' ? { metric: t.metric, ...(t.scoring ? { scoring: t.scoring } : {}) } : {}),
  ...(t.kind === 'safety' && t.judgeInput ? { judgeInput: t.judgeInput } : {}),
});

/** Reads `outDir/manifest.json` (empty when absent). */
export function readManifest(outDir: string): Manifest {
  const path = join(outDir, 'manifest.json');
  if (!existsSync(path)) return { models: [], tasks: [] };
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    if (!Array.isArray(m.models) || !Array.isArray(m.tasks)) throw new Error('expected { models: [...], tasks: [...] }');
    return m;
  } catch (err) {
    throw new TaskDataError(path, null, null, `cannot read the manifest (${(err as Error).message}); it lists what the folder holds, restore or delete it`);
  }
}

/**
 * Adds this run's models and tasks to the manifest (a task of the same name is replaced by this run's version;
 * earlier entries keep their place) and writes it atomically. Returns the merged manifest, this run's entries first.
 */
export function recordRun(outDir: string, models: ModelSource[], tasks: Task[]): Manifest {
  const old = readManifest(outDir);
  const runModels = new Set(models.map((m) => m.name));
  const runTasks = new Set(tasks.map((t) => t.name));
  const merged: Manifest = {
    models: [...models, ...old.models.filter((m) => !runModels.has(m.name))],
    tasks: [...tasks.map(shapeOf), ...old.tasks.filter((t) => !runTasks.has(t.name))],
  };
  mkdirSync(outDir, { recursive: true });
  writeFileAtomic(join(outDir, 'manifest.json'), JSON.stringify(merged) + '\n');
  return merged;
}
