// `bfpo prepare`: a recipe's data loaded, mixed and tokenized exactly as `bfpo train` / `bfpo sft` would, with the
// counts per dataset and split, and optionally the first rows in training order as JSON lines (--dump).
import { dumpJsonLines, preferenceDumpRow, sftDumpRow } from '../data/dump.js';
import { writeAtomic } from '../io/atomic.js';
import { checkDatasetPaths, checkModelPath } from './paths.js';
import { loadRecipe, RecipeError } from './recipe.js';
import { splitArgs } from './run-training.js';
import { checkRecipe } from './trainer-config.js';

export const PREPARE_USAGE = 'bfpo prepare RECIPE.yaml [--key=value ...] [--task preference|sft] [--dump N] [--split train|test|buffer] [--out FILE]';

export const PREPARE_HELP =
  'Loads, mixes and tokenizes the data of a recipe exactly as `bfpo train` (--task preference, the default) or\n' +
  '`bfpo sft` (--task sft) would, and reports the counts per dataset and split. Only the tokenizer is read.\n' +
  '  --dump N         write the first N rows of a split in training order as JSON lines: preference rows\n' +
  '                   {dataset, row, chosen_input_ids, chosen_labels, rejected_input_ids, rejected_labels,\n' +
  '                   is_chosen_safe, is_rejected_safe}; SFT rows (or packed blocks) {dataset, row, input_ids,\n' +
  '                   labels}; labels are -100 where no loss is taken; row is the index in the dataset split\n' +
  '                   (for a packed block, the list of rows it holds)\n' +
  '  --split S        train (default), test, or buffer (the buffer data of a preference recipe)\n' +
  '  --out FILE       write the dump to FILE (atomically) instead of standard output\n' +
  'Every other --key=value is a recipe override, as for bfpo train.';

interface PrepareArgs { task: 'preference' | 'sft'; dump: number | null; split: 'train' | 'test' | 'buffer'; out: string | null; rest: string[] }

/** Takes prepare's own flags out of the arguments; the rest are the recipe and its overrides. */
export function parsePrepareArgs(args: string[]): PrepareArgs {
  const out: PrepareArgs = { task: 'preference', dump: null, split: 'train', out: null, rest: [] };
  for (let i = 0; i < args.length; i++) {
    const m = /^--(task|dump|split|out)(?:=(.*))?$/.exec(args[i]!);
    if (!m) { out.rest.push(args[i]!); continue; }
    const value = m[2] ?? args[++i];
    if (value === undefined) throw new RecipeError(`--${m[1]} needs a value`);
    if (m[1] === 'task') {
      if (value !== 'preference' && value !== 'sft') throw new RecipeError(`Expected one of preference, sft for --task but received "${value}"`);
      out.task = value;
    } else if (m[1] === 'dump') {
      if (!/^\d+$/.test(value)) throw new RecipeError(`Expected a whole number for --dump but received "${value}"`);
      out.dump = Number(value);
    } else if (m[1] === 'split') {
      if (value !== 'train' && value !== 'test' && value !== 'buffer') throw new RecipeError(`Expected one of train, test, buffer for --split but received "${value}"`);
      out.split = value;
    } else out.out = value;
  }
  if (out.split === 'buffer' && out.task === 'sft') throw new RecipeError('--split buffer applies to preference recipes (--task preference)');
  return out;
}

/** `bfpo prepare`: see {@link PREPARE_HELP}. */
export async function prepareCommand(args: string[]): Promise<void> {
  const a = parsePrepareArgs(args);
  const { file, overrides } = splitArgs(a.rest);
  if (!file) throw new RecipeError(`A recipe file is needed: ${PREPARE_USAGE}`);
  const r = loadRecipe(file, overrides);
  if (!r.values.output_dir) r.values.output_dir = '.'; // nothing is written there
  checkRecipe(r, a.task);
  checkModelPath(r.values.model_name_or_path as string);
  checkDatasetPaths(r.values.dataset_mixer as Record<string, number>);
  if (r.values.use_buffer && a.task === 'preference') checkDatasetPaths(r.values.buffer_dataset_mixer as Record<string, number>, 'buffer_dataset_mixer');
  const { loadFolderTokenizer } = await import('./hf-model.js');
  const { preferenceData, sftData, textTokenizer } = await import('./backend.js');
  const v = r.values;
  const tok = textTokenizer(loadFolderTokenizer((v.tokenizer_name_or_path as string | null) ?? (v.model_name_or_path as string)), v.chat_template as string | null);
  const say = (line: string): void => { process.stderr.write(`bfpo: ${line}\n`); };
  let text = '';
  if (a.task === 'preference') {
    const data = await preferenceData(r, tok);
    const sources = { train: data.train, test: data.eval, buffer: data.buffer };
    for (const [name, s] of Object.entries(sources)) if (s) say(`prepared ${name}: ${s.items.length} pairs in ${s.length} batches`);
    if (a.dump !== null) {
      const s = sources[a.split];
      if (!s) throw new RecipeError(a.split === 'buffer' ? 'The recipe has no buffer data (use_buffer is false)' : 'The recipe\'s data has no test split');
      text = dumpJsonLines(s.items, s.itemOrder(0), a.dump, preferenceDumpRow);
    }
  } else {
    const data = await sftData(r, tok);
    const what = v.packing === true ? 'packed blocks' : 'conversations';
    const sources = { train: data.train, test: data.eval };
    for (const [name, s] of Object.entries(sources)) if (s) say(`prepared ${name}: ${s.items.length} ${what} in ${s.length} batches`);
    if (a.dump !== null) {
      const s = sources[a.split as 'train' | 'test'];
      if (!s) throw new RecipeError('The recipe\'s data has no test split');
      text = dumpJsonLines(s.items, s.itemOrder(0), a.dump, sftDumpRow);
    }
  }
  if (a.dump === null) return;
  if (a.out) {
    writeAtomic(a.out, (w) => w.write(Buffer.from(text, 'utf8')));
    say(`wrote ${text === '' ? 0 : text.split('\n').length - 1} rows of the ${a.split} split to ${a.out}`);
  } else process.stdout.write(text);
}
