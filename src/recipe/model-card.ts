// The model card (README.md) of a training output: base model, data files and their hashes, the recipe, the final
// metrics and how to run the model, so a folder explains itself wherever it is copied.
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join, relative } from 'node:path';
import { stringify } from 'yaml';
import { datasetPath } from '../data/mixer.js';
import { writeAtomic } from '../io/atomic.js';
import type { Recipe } from './recipe.js';

/** sha256 of a file, read in 1 MiB chunks (data files can be large). */
export function sha256File(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name.startsWith('.')) return [];
    const p = join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() || e.isSymbolicLink() ? [p] : [];
  }).sort();
}

/** The data files of a dataset path with their sha256 (a folder: every file under it, hidden ones excepted). */
export function datasetHashes(path: string): { file: string; sha256: string }[] {
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return [{ file: basename(path), sha256: sha256File(path) }];
  return filesUnder(path).map((f) => ({ file: relative(path, f), sha256: sha256File(f) }));
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toPrecision(5));

/**
 * The model card text for a finished run.
 * @example writeFileSync('out/README.md', modelCard(recipe, 'preference', result.lastLog, result.lastEval, '0.1.0'));
 */
export function modelCard(r: Recipe, task: 'sft' | 'preference', lastLog: Record<string, number>, lastEval: Record<string, number>, version: string): string {
  const v = r.values;
  const base = String(v.model_name_or_path);
  const out = String(v.output_dir);
  const method = task === 'sft' ? 'supervised fine-tuning' : `preference training (loss_type: ${String(v.loss_type)})`;
  const lora = v.use_peft ? `, LoRA r=${String(v.lora_r)} alpha=${String(v.lora_alpha)} (${v.lora_save === 'merged' ? 'merged' : 'saved as a PEFT adapter'})` : '';
  const mixers: [string, unknown][] = [['dataset_mixer', v.dataset_mixer], ...(v.use_buffer ? [['buffer_dataset_mixer', v.buffer_dataset_mixer] as [string, unknown]] : [])];
  const dataRows: string[] = [];
  for (const [key, mixer] of mixers) {
    for (const [name, frac] of Object.entries((mixer ?? {}) as Record<string, number>)) {
      const hashes = datasetHashes(datasetPath(name, {}));
      if (hashes.length === 0) dataRows.push(`| ${key} | ${name} | ${frac} | (not found) | |`);
      for (const h of hashes) dataRows.push(`| ${key} | ${name} | ${frac} | ${h.file} | \`${h.sha256}\` |`);
    }
  }
  const metrics = [...Object.entries(lastLog).map(([k, x]) => `| train/${k} | ${fmt(x)} |`), ...Object.entries(lastEval).map(([k, x]) => `| eval/${k} | ${fmt(x)} |`)];
  const name = basename(out);
  const recipeValues = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null && x !== undefined));
  return [
    '---',
    `base_model: ${JSON.stringify(base)}`,
    'library_name: bfpo',
    `tags: [bfpo, ${task === 'sft' ? 'sft' : String(v.loss_type)}${v.use_peft ? ', lora' : ''}]`,
    '---',
    '',
    `# ${name}`,
    '',
    `${task === 'sft' ? 'Fine-tuned' : 'Aligned'} from \`${base}\` by ${method}${lora}, with bfpo ${version}${r.file ? ` from the recipe \`${r.file}\`` : ''}.`,
    '',
    '## Data',
    '',
    '| mixer | dataset | fraction | file | sha256 |',
    '| --- | --- | --- | --- | --- |',
    ...dataRows,
    '',
    '## Final metrics',
    '',
    ...(metrics.length > 0 ? ['| metric | value |', '| --- | --- |', ...metrics] : ['(none logged)']),
    '',
    '## How to run it',
    '',
    '```sh',
    `bfpo generate --model ${out} --prompt "How do I make a strong password?"`,
    `bfpo convert ${out} ${name}.gguf --type q8_0    # also writes ${name}.Modelfile`,
    `ollama create ${name} -f ${name}.Modelfile`,
    '```',
    '',
    v.use_peft && v.lora_save !== 'merged'
      ? `With Python: \`PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("${base}"), "${out}")\`, or merge it first with \`bfpo merge ${out} ${out}-merged\`.`
      : `With Python: \`AutoModelForCausalLM.from_pretrained("${out}")\` and \`AutoTokenizer.from_pretrained("${out}")\` (the chat template is in tokenizer_config.json).`,
    '',
    '## Recipe',
    '',
    '```yaml',
    stringify(recipeValues).trimEnd(),
    '```',
    '',
  ].join('\n');
}

/** Writes README.md (the model card) into the run's output folder. */
export function writeModelCard(dir: string, text: string): void {
  writeAtomic(join(dir, 'README.md'), (out) => out.write(Buffer.from(text)));
}

/** The installed bfpo version. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
