// `bfpo prepare`: argument handling; the recipe layer loads, mixes and tokenizes the data (inspectRecipeData).
import { writeFileAtomic } from '../io/atomic.js';
import { RecipeError } from '../recipe/recipe.js';

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

/** prepare's own flags, and the recipe with its overrides. */
export interface PrepareArgs { task: 'preference' | 'sft'; dump: number | null; split: 'train' | 'test' | 'buffer'; out: string | null; rest: string[] }

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
  return out;
}

/** `bfpo prepare`: see {@link PREPARE_HELP}. */
export async function prepareCommand(args: string[]): Promise<void> {
  const a = parsePrepareArgs(args);
  const { prepareDataRecipe } = await import('../recipe/prepare.js');
  const recipe = prepareDataRecipe(a.task, a.rest);
  const { inspectRecipeData } = await import('../recipe/inspect-data.js');
  const { summary, dump } = await inspectRecipeData(recipe, a.task, a.dump === null ? null : { split: a.split, rows: a.dump });
  for (const line of summary) process.stderr.write(`bfpo: prepared ${line}\n`);
  if (a.dump === null) return;
  if (a.out) {
    writeFileAtomic(a.out, dump);
    process.stderr.write(`bfpo: wrote ${dump.split('\n').length - 1} rows of the ${a.split} split to ${a.out}\n`);
  } else process.stdout.write(dump);
}
