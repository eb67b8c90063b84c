// Loads one split of one dataset into canonical examples: files → rows (streamed) → adapter → examples.
import { ArgumentError } from '../errors.js';
import { adapterById, adapterForColumns, adapterForName, type DatasetAdapter } from './adapters/index.js';
import { splitFiles } from './dataset-files.js';
import { DataError, SkipReport } from './errors.js';
import { asRecord } from './fields.js';
import { parquetColumns } from './read-parquet.js';
import { countRows, fileFormat, readRows } from './read-rows.js';
import type { DataTask, ExampleOf } from './types.js';

/** Options of {@link loadSplit}. */
export interface LoadSplitOptions<T extends DataTask> {
  /** Dataset folder or data file. */
  path: string;
  /** Split name as it appears in the file names ("train", "train_prefs", ...). Default "train". */
  split?: string;
  task: T;
  /** Adapter id, or an adapter; default: from `name`, else from the columns of the first file. */
  adapter?: string | DatasetAdapter;
  /** Dataset name as the original names it (e.g. "PKU-Alignment/PKU-SafeRLHF"); also used in `source.dataset`. */
  name?: string;
  /** Read only the first `limit` rows of the split (across its shards). */
  limit?: number;
  /** Skip invalid rows (counted in `report`) instead of throwing. */
  skipInvalid?: boolean;
  /** Where skipped rows are counted; a fresh report is made when absent. */
  report?: SkipReport;
}

/** Columns of a data file: the Parquet schema, or the keys of the first JSON row. */
async function columnsOf(file: string): Promise<string[]> {
  if (fileFormat(file) === 'parquet') return parquetColumns(file);
  for await (const { value, error } of readRows(file, { end: 1 })) {
    if (error) throw error;
    return value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
  }
  return [];
}

/**
 * Picks the adapter for a dataset: explicit, else by name, else by columns of its first file.
 *
 * @example
 * const a = await resolveAdapter({ name: 'HuggingFaceH4/ultrafeedback_binarized' }); // ultraFeedback
 */
export async function resolveAdapter(opts: { adapter?: string | DatasetAdapter; name?: string; file?: string }): Promise<DatasetAdapter> {
  if (opts.adapter) return typeof opts.adapter === 'string' ? adapterById(opts.adapter) : opts.adapter;
  const byName = opts.name ? adapterForName(opts.name) : undefined;
  if (byName) return byName;
  if (opts.file) {
    const columns = await columnsOf(opts.file);
    const byColumns = adapterForColumns(columns);
    if (byColumns) return byColumns;
    throw new DataError(opts.file, -1, '', `cannot tell the dataset format from its columns (${columns.join(', ') || 'none'}); name an adapter`);
  }
  throw new ArgumentError(`Expected an adapter, a known dataset name or a data file for dataset but received ${JSON.stringify(opts.name)}`);
}

/** Row counts of each file of a split, in order. */
export async function splitRowCounts(path: string, split: string): Promise<{ file: string; rows: number }[]> {
  const files = await splitFiles(path, split);
  return Promise.all(files.map(async (file) => ({ file, rows: await countRows(file) })));
}

/**
 * Reads one split into canonical examples. Rows are numbered across the split's shards in `source.row`.
 * A bad row throws a DataError naming the file, the row in that file and the field, unless `skipInvalid`.
 *
 * @example
 * const { examples } = await loadSplit({ path: 'data/pku', split: 'train', task: 'preference' });
 */
export async function loadSplit<T extends DataTask>(opts: LoadSplitOptions<T>): Promise<{ examples: ExampleOf<T>[]; adapter: DatasetAdapter; report: SkipReport; files: string[] }> {
  const split = opts.split ?? 'train';
  const files = await splitFiles(opts.path, split);
  const adapter = await resolveAdapter({ adapter: opts.adapter, name: opts.name, file: files[0] });
  const convert: ((rec: Record<string, unknown>, ctx: { file: string; row: number }) => object) | undefined =
    opts.task === 'preference' ? adapter.preference : adapter.sft;
  if (!convert) throw new ArgumentError(`Expected a dataset with ${opts.task} examples for ${opts.name ?? opts.path} but received the "${adapter.id}" format, which has none`);
  const report = opts.report ?? new SkipReport();
  const dataset = `${opts.name ?? opts.path}:${split}`;
  const examples: ExampleOf<T>[] = [];
  let offset = 0;
  let remaining = opts.limit ?? Infinity;
  for (const file of files) {
    if (remaining <= 0) break;
    let last = -1;
    for await (const { row, value, error } of readRows(file, { end: Number.isFinite(remaining) ? remaining : undefined })) {
      last = row;
      const ctx = { file, row };
      try {
        if (error) throw error;
        const ex = convert(asRecord(ctx, value), ctx);
        examples.push({ ...ex, source: { dataset, row: offset + row } } as ExampleOf<T>);
      } catch (e) {
        if (!(e instanceof DataError) || !opts.skipInvalid) throw e;
        report.add(e, dataset, offset + row);
      }
    }
    offset += last + 1;
    remaining -= last + 1;
  }
  return { examples, adapter, report, files };
}
