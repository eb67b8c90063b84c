// PEFT LoRA adapter folders (adapter_config.json + adapter_model.safetensors): finding the base model and folding
// the adapters into the base weights (W + scaling * B A), so an adapter loads wherever a model folder does.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../io/errors.js';
import { readJsonObject } from '../io/hf-folder.js';
import { loadSafetensors } from '../io/safetensors.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** What bfpo needs from adapter_config.json. */
export interface AdapterConfig {
  /** `base_model_name_or_path`: a folder, a .gguf file or a hub repo id; null when absent. */
  base: string | null;
  r: number;
  alpha: number;
  /** alpha / r, or alpha / sqrt(r) with `use_rslora` (rank-stabilised LoRA). */
  scaling: number;
}

/** Whether `dir` is a PEFT adapter folder rather than a full model folder. */
export function isAdapterFolder(dir: string): boolean {
  return existsSync(join(dir, 'adapter_config.json')) && !existsSync(join(dir, 'config.json'));
}

/** Reads adapter_config.json, naming the file and field on anything bfpo cannot use. */
export function readAdapterConfig(dir: string): AdapterConfig {
  const file = join(dir, 'adapter_config.json');
  const c = readJsonObject(file);
  if (c.peft_type !== undefined && c.peft_type !== 'LORA') throw new FormatError(file, `is a ${String(c.peft_type)} adapter; only LORA adapters can be loaded`, 'peft_type');
  const r = c.r;
  const alpha = c.lora_alpha ?? r;
  if (typeof r !== 'number' || !(r > 0)) throw new FormatError(file, `must hold a positive rank, not ${JSON.stringify(r)}`, 'r');
  if (typeof alpha !== 'number') throw new FormatError(file, `must hold a number, not ${JSON.stringify(alpha)}`, 'lora_alpha');
  const base = typeof c.base_model_name_or_path === 'string' && c.base_model_name_or_path !== '' ? c.base_model_name_or_path : null;
  return { base, r, alpha, scaling: c.use_rslora === true ? alpha / Math.sqrt(r) : alpha / r };
}

/** The base weight a PEFT adapter key belongs to: `base_model.model.X.lora_A[.default].weight` -> `X.weight`. */
function targetOf(key: string): { target: string; part: 'A' | 'B' } | null {
  const m = /^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[\w-]+)?\.weight$/.exec(key);
  return m ? { target: `${m[1]}.weight`, part: m[2] as 'A' | 'B' } : null;
}

/** The adapter weights file of a PEFT folder, checked to exist. */
export function adapterWeightsFile(dir: string): string {
  const file = join(dir, 'adapter_model.safetensors');
  if (!existsSync(file)) throw new FormatError(dir, 'is an adapter folder without adapter_model.safetensors (pickle adapter_model.bin is not read)');
  return file;
}

/**
 * Replaces each adapted weight of `weights` by W + scaling * B A (computed in float32, stored in W's dtype).
 * Throws a FormatError naming the file and key when an adapter has no matching base weight or lacks its pair.
 * @example mergeAdapterInto(weights, 'out/lora-run', readAdapterConfig('out/lora-run').scaling);
 */
export function mergeAdapterInto(weights: Map<string, Tensor>, dir: string, scaling: number): string[] {
  const file = adapterWeightsFile(dir);
  return mergeAdapterWeights(weights, loadSafetensors(file), file, scaling);
}

/** `mergeAdapterInto` with the adapter tensors of `file` already loaded (they are disposed here). */
export function mergeAdapterWeights(weights: Map<string, Tensor>, adapter: Map<string, Tensor>, file: string, scaling: number): string[] {
  const merged: string[] = [];
  try {
    const pairs = new Map<string, { A?: Tensor; B?: Tensor }>();
    for (const [key, t] of adapter) {
      const hit = targetOf(key);
      if (!hit) continue;
      if (!weights.has(hit.target)) throw new FormatError(file, `adapts ${hit.target}, which the base model does not have (is base_model_name_or_path the right model?)`, key);
      const p = pairs.get(hit.target) ?? {};
      p[hit.part] = t;
      pairs.set(hit.target, p);
    }
    for (const [target, { A, B }] of pairs) {
      if (!A || !B) throw new FormatError(file, `has lora_${A ? 'B' : 'A'} missing for ${target}`);
      const w = weights.get(target)!;
      const next = tidy(() => w.float().add(B.float().matmul(A.float()).mul(scaling)).to(w.dtype)); // [out, in]
      w.dispose();
      weights.set(target, next);
      merged.push(target);
    }
  } finally {
    for (const t of adapter.values()) t.dispose();
  }
  if (merged.length === 0) throw new FormatError(file, 'holds no lora_A/lora_B weights');
  return merged;
}
