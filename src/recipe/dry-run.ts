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
import { estimateMemory, formatMemoryEstimate, gib, optimizerStates, type MemoryEstimate } from './memory-estimate.js';
import { totalmem } from 'node:os';
import { CudaUnavailableError, resolveDevice } from '../tensor/device.js';
import { cuda, fastPaths } from '../tensor/runtime.js';
import { RECIPE_KEYS } from './recipe-keys.js';
import { RecipeValues } from './values.js';
import { SHARDING_VALUES } from '../parallel/data-parallel.js';
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

/** Where a dry run's estimate applies: the device the run would use, whether it can here, and what it holds. */
export interface DryRunDevice {
  /** The device the run would compute on ('cuda' when CUDA was asked for but cannot be used here). */
  device: string;
  /** Why the requested CUDA device cannot be used on this machine, or null. */
  unusable: string | null;
  /** Bytes the device holds (RAM for the CPU, the GPU's memory), or null when unknown. */
  capacityBytes: number | null;
  /** Attention runs through libtorch's fused kernel (sdpa on CUDA), else the eager products. */
  fusedAttention: boolean;
}

/** The device a run's settings resolve to on this machine, without failing when CUDA is missing here. */
export function dryRunDevice(s: RunSettings): DryRunDevice {
  let device: string;
  let unusable: string | null = null;
  try {
    device = resolveDevice(s.device, 'device');
  } catch (e) {
    if (!(e instanceof CudaUnavailableError)) throw e;
    device = s.device;
    unusable = e.message;
  }
  const onCuda = device.startsWith('cuda');
  const memory = onCuda && !unusable ? cuda.memoryInfo(Number(device.split(':')[1] ?? 0)) : null;
  const capacityBytes = !onCuda ? totalmem() : memory ? memory.total : null;
  // auto and sdpa take the fused kernel where libtorch has it; a GPU machine is assumed to have a 2.x libtorch.
  const fusedAttention = onCuda && (s.model.attention === 'sdpa' || (s.model.attention === 'auto' && (unusable !== null || fastPaths().sdpa)));
  return { device, unusable, capacityBytes, fusedAttention };
}

/** The memory estimate of a run from its model folder's config.json (the weights are not read). */
export function runMemoryEstimate(s: RunSettings, o: { ranks?: number } = {}): MemoryEstimate {
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
    ranks: o.ranks ?? 1,
    sharding: new RecipeValues(s.recipe).oneOf('sharding', SHARDING_VALUES),
  });
}

/** The device lines of the estimate: where it runs, the settings that shape the estimate, and whether it fits. */
function deviceLines(s: RunSettings, d: DryRunDevice, e: MemoryEstimate, ranks = 1): string[] {
  const c = s.trainer;
  const shape = [
    `gradient_checkpointing ${c.gradientCheckpointing ? 'on' : 'off'}`,
    s.lora ? `LoRA r=${s.lora.r} on ${s.lora.targetModules.join(', ')}` : 'no LoRA',
    `reference ${s.task === 'preference' ? s.reference.strategy : 'none'}`,
    `attention ${d.fusedAttention ? 'fused (sdpa)' : 'eager (probabilities computed again in the backward pass)'}`,
    ...(ranks > 1 ? [`${ranks} ranks, sharding ${new RecipeValues(s.recipe).oneOf('sharding', SHARDING_VALUES)} (per rank)`] : []),
  ];
  const out = [`device: ${d.device}${s.device === 'auto' ? ' (device: auto)' : ''}; ${shape.join(', ')}`];
  if (d.unusable) out.push(`note: ${d.unusable}`);
  if (d.capacityBytes !== null) {
    const verdict = e.totalBytes <= d.capacityBytes ? 'fits in' : 'EXCEEDS';
    out.push(`estimated peak ${gib(e.totalBytes)} ${verdict} the ${gib(d.capacityBytes)} of ${d.device.startsWith('cuda') ? d.device : 'RAM'}`);
  }
  return out;
}

/**
 * Checks a resolved run as far as it can without loading the model: resume compatibility first, then the memory
 * estimate (config.json only), then the data (loaded, mixed and tokenized as training would). Returns the report:
 * the resolved recipe as YAML, the data counts and the estimate. Writes nothing to output_dir.
 */
export async function dryRun(s: RunSettings, note: (text: string) => void, o: { ranks?: number } = {}): Promise<string> {
  const resume = checkResume(s, note);
  const where = dryRunDevice(s);
  const ranks = o.ranks ?? 1;
  const estimate = runMemoryEstimate(s, { ranks });
  const { summary } = await inspectRecipeData(s, null);
  return [
    '# Resolved recipe',
    stringify(resolvedRecipe(s)).trimEnd(),
    '',
    '# Data',
    ...summary.map((l) => `# ${l}`),
    resume ? `# Would resume from ${resume}` : '# Would start from step 0 (no checkpoint in output_dir)',
    '',
    '# Memory estimate per device (see docs/training.md and docs/gpu.md)',
    ...deviceLines(s, where, estimate, ranks).map((l) => `# ${l}`),
    ...formatMemoryEstimate(estimate).map((l) => `# ${l}`),
    '',
  ].join('\n');
}
