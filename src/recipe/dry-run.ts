// `bfpo train|sft --dry-run`: everything a run checks before its first forward pass (recipe, paths, resume
// compatibility, data counts), the resolved recipe as YAML and a memory estimate; no weights are read, nothing written.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../models/config.js';
import { assertSameRun, CheckpointDamagedError, checkpointProblem, lastIntactCheckpoint, TRAINER_STATE } from '../train/checkpoint.js';
import { ArgumentError } from '../errors.js';
import { FormatError } from '../io/errors.js';
import { inspectRecipeData } from './inspect-data.js';
import { estimateMemory, formatMemoryEstimate, optimizerStates, type MemoryEstimate } from './memory-estimate.js';
import { RECIPE_KEYS } from './recipe-keys.js';
import type { RunSettings } from './settings.js';

/** The recipe with every key that has an effect at its value (given or default), the paths as resolved. */
export function resolvedRecipe(s: RunSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of RECIPE_KEYS) {
    if (k.group === 'accepted' || k.aliasOf || (s.task === 'sft' && k.group === 'preference')) continue;
    out[k.key] = k.key in s.recipe.values ? s.recipe.values[k.key] : k.default;
  }
  out.model_name_or_path = s.model.path;
  out.output_dir = s.trainer.outputDir;
  return out;
}

/**
 * Throws the resume refusal a run would give (CheckpointMismatchError) when output_dir (or resume_from_checkpoint)
 * holds a checkpoint of a run with another configuration; returns the checkpoint that would be resumed, or null.
 */
export function checkResume(s: RunSettings, note: (text: string) => void): string | null {
  const c = s.trainer;
  const dir = c.resumeFromCheckpoint ?? lastIntactCheckpoint(c.outputDir, note);
  if (!dir) return null;
  if (!existsSync(join(dir, TRAINER_STATE))) throw new ArgumentError(`No ${TRAINER_STATE} in ${dir}: it is not a complete checkpoint`);
  const problem = checkpointProblem(dir);
  if (problem) throw new CheckpointDamagedError(`${dir} is damaged: ${problem}; resume from an earlier checkpoint`);
  assertSameRun(dir, c.runConfig, c.resumeIgnoredKeys);
  return dir;
}

/** The memory estimate of a run from its model folder's config.json (the weights are not read). */
export function runMemoryEstimate(s: RunSettings): MemoryEstimate {
  const file = join(s.model.path, 'config.json');
  if (!existsSync(file)) throw new FormatError(file, 'is needed for the memory estimate and was not found');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FormatError(file, `is not valid JSON (${(e as Error).message})`);
  }
  const config = parseConfig(raw);
  const dtype = s.model.dtype === 'auto' ? config.torchDtype ?? 'float32' : s.model.dtype;
  const c = s.trainer;
  const preference = s.task === 'preference';
  const sequences = s.batch.train * (preference ? 2 : 1) * (preference && s.data.buffer ? 2 : 1);
  return estimateMemory({
    config,
    weightBytes: dtype === 'float32' ? 4 : 2,
    masterWeights: c.bf16,
    trainable: s.lora ? { kind: 'lora', r: s.lora.r, targets: s.lora.targetModules }
      : c.selectedLayers ? { kind: 'selected', fragments: c.selectedLayers } : { kind: 'all' },
    optimizerStates: optimizerStates(c.optim, c.momentum),
    reference: preference ? s.reference.strategy : 'none',
    sequences,
    seqLen: preference ? s.tokenize.maxLength : s.tokenize.maxSeqLength,
    gradientCheckpointing: c.gradientCheckpointing ?? false,
  });
}

/**
 * Checks a resolved run as far as it can without loading the model: resume compatibility first, then the memory
 * estimate (config.json only), then the data (loaded, mixed and tokenized as training would). Returns the report:
 * the resolved recipe as YAML, the data counts and the estimate. Writes nothing to output_dir.
 */
export async function dryRun(s: RunSettings, note: (text: string) => void): Promise<string> {
  const resume = checkResume(s, note);
  const estimate = runMemoryEstimate(s);
  const { summary } = await inspectRecipeData(s, null);
  return [
    '# Resolved recipe',
    stringify(resolvedRecipe(s)).trimEnd(),
    '',
    '# Data',
    ...summary.map((l) => `# ${l}`),
    resume ? `# Would resume from ${resume}` : '# Would start from step 0 (no checkpoint in output_dir)',
    '',
    '# Memory estimate (see docs/training.md)',
    ...formatMemoryEstimate(estimate).map((l) => `# ${l}`),
    '',
  ].join('\n');
}
