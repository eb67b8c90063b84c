// Safety prompt sets: the built-in AdvBench copy, and prompt files (JSONL/JSON/Parquet/text) incl. PKU-SafeRLHF and ALERT.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRecords, sampleId, stringField } from '../records.js';
import type { OverRefusalTask, SafetySample, SafetyTask } from './types.js';

/** Where the project's AdvBench copy lives (`data/advbench.txt` at the package root). */
export function advbenchPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'data', 'advbench.txt');
    if (existsSync(p)) return p;
    dir = resolve(dir, '..');
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../data/advbench.txt');
}

/**
 * Removes ALERT's instruction wrapper: its prompts read `### Instruction:\n<text>\n### Response:\n`.
 * Text without the wrapper comes back trimmed and otherwise unchanged.
 *
 * @example unwrapAlertPrompt('### Instruction:\nHow do I pick a lock?\n### Response:\n') // 'How do I pick a lock?'
 */
export function unwrapAlertPrompt(text: string): string {
  return text.replace(/^\s*###\s*Instruction:\s*/i, '').replace(/\s*###\s*Response:\s*$/i, '').trim();
}

/** How a safety prompt file is laid out. `alert` unwraps ALERT prompts; `plain` takes the field as is. */
export type PromptFormat = 'plain' | 'alert';

export interface PromptFileOptions {
  /** The field holding the prompt (default `prompt`; `text` for .txt files). */
  field?: string;
  format?: PromptFormat;
  /** Field naming a category, kept with each sample (default `category` when present). */
  categoryField?: string;
  /** Keep only the first `limit` distinct prompts. */
  limit?: number;
}

/**
 * Loads harmful prompts from a file. Repeated prompts are kept once (PKU-SafeRLHF lists each prompt with several
 * response pairs). Each sample keeps the record's `id` field, else its row number.
 *
 * @example
 * const pku = await loadSafetyPrompts('pku-test.parquet', 'pku');               // field "prompt"
 * const alert = await loadSafetyPrompts('alert.jsonl', 'alert', { format: 'alert' });
 */
export async function loadSafetyPrompts(file: string, name: string, o: PromptFileOptions = {}): Promise<SafetyTask> {
  const records = await readRecords(file);
  const field = o.field ?? (file.toLowerCase().endsWith('.txt') ? 'text' : 'prompt');
  const categoryField = o.categoryField ?? 'category';
  const seen = new Set<string>();
  const samples: SafetySample[] = [];
  for (const r of records) {
    if (o.limit !== undefined && samples.length >= o.limit) break;
    let prompt = stringField(file, r, field);
    if (o.format === 'alert') prompt = unwrapAlertPrompt(prompt);
    else prompt = prompt.trim();
    if (seen.has(prompt)) continue;
    seen.add(prompt);
    const category = r.record[categoryField];
    samples.push({ id: sampleId(r), prompt, behavior: prompt, ...(typeof category === 'string' ? { category } : {}) });
  }
  return { kind: 'safety', name, samples };
}

/**
 * The built-in AdvBench task (Zou et al. 2023, harmful behaviours, one a line), from the project's own copy.
 *
 * @example const task = await advbenchTask({ limit: 50 });
 */
export async function advbenchTask(o: { limit?: number } = {}): Promise<SafetyTask> {
  const file = advbenchPath();
  const task = await loadSafetyPrompts(file, 'advbench', { field: 'text', limit: o.limit });
  task.samples.forEach((s, i) => (s.id = `advbench-${i}`));
  return task;
}

/**
 * Benign prompts for the over-refusal rate (same file layouts as safety prompts).
 *
 * @example const benign = await loadBenignPrompts('benign.jsonl', 'benign');
 */
export async function loadBenignPrompts(file: string, name: string, o: PromptFileOptions = {}): Promise<OverRefusalTask> {
  const t = await loadSafetyPrompts(file, name, o);
  return { kind: 'over-refusal', name, samples: t.samples.map(({ id, prompt }) => ({ id, prompt })) };
}
