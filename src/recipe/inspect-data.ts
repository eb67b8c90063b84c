// What a recipe trains on: its data loaded, mixed and tokenized exactly as a training run would, with the counts per
// split and the first rows of a split in training order as JSON lines (`bfpo prepare`).
import { dumpJsonLines, preferenceDumpRow, sftDumpRow } from '../data/dump.js';
import { loadTokenizer } from '../io/tokenizer.js';
import { RecipeError } from './recipe.js';
import { dataEncoder, preferenceData, sftData, textTokenizer } from './run.js';
import type { RunSettings } from './settings.js';

/** Which rows to dump: the first `rows` of `split` in training order. */
export interface DumpRequest {
  split: 'train' | 'test' | 'buffer';
  rows: number;
}

/** Sizes of each prepared split, and the dump when one was asked for. */
export interface InspectedData {
  /** One line per split, e.g. `train: 16 pairs in 4 batches`. */
  summary: string[];
  /** JSON lines of the dumped rows ('' without a dump request). */
  dump: string;
}

/**
 * Prepares a resolved recipe's data as `bfpo train` (task `preference`) or `bfpo sft` (`sft`) would, reading only the
 * tokenizer. Counts per dataset, warnings and skip reports go to stderr as in a training run.
 *
 * @example
 * const { dump } = await inspectRecipeData(prepareDataRecipe('preference', [file]), { split: 'train', rows: 3 });
 */
export async function inspectRecipeData(settings: RunSettings, request: DumpRequest | null): Promise<InspectedData> {
  const tokenizer = loadTokenizer(settings.model.tokenizerPath);
  tokenizer.contentSpecialTokens = settings.model.contentSpecialTokens;
  const tok = textTokenizer(tokenizer, settings.model.chatTemplate);
  const summary: string[] = [];
  if (settings.task === 'preference') {
    const data = await preferenceData(settings, tok, { encoder: dataEncoder(settings, tokenizer) });
    const sources = { train: data.train, test: data.eval, buffer: data.buffer };
    for (const [name, s] of Object.entries(sources)) if (s) summary.push(`${name}: ${s.items.length} pairs in ${s.length} batches`);
    if (!request) return { summary, dump: '' };
    const s = sources[request.split];
    if (!s) throw new RecipeError(request.split === 'buffer' ? 'The recipe has no buffer data (use_buffer is false)' : 'The recipe\'s data has no test split');
    return { summary, dump: dumpJsonLines(s.items, s.itemOrder(0), request.rows, preferenceDumpRow) };
  }
  if (request?.split === 'buffer') throw new RecipeError('--split buffer applies to preference recipes (bfpo train); SFT has no buffer');
  const data = await sftData(settings, tok, { encoder: dataEncoder(settings, tokenizer) });
  const what = settings.tokenize.packing ? 'packed blocks' : 'conversations';
  const sources = { train: data.train, test: data.eval };
  for (const [name, s] of Object.entries(sources)) if (s) summary.push(`${name}: ${s.items.length} ${what} in ${s.length} batches`);
  if (!request) return { summary, dump: '' };
  const s = sources[request.split as 'train' | 'test'];
  if (!s) throw new RecipeError('The recipe\'s data has no test split');
  return { summary, dump: dumpJsonLines(s.items, s.itemOrder(0), request.rows, sftDumpRow) };
}
