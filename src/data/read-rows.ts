// Picks the reader from a file's extension: .jsonl/.ndjson, .json, .parquet.
import { open, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { DataError } from './errors.js';
import { countJsonArray, readJsonArray } from './read-json.js';
import { countJsonl, readJsonl } from './read-jsonl.js';
import { countParquet, readParquet } from './read-parquet.js';
import type { RawRow } from './types.js';

/** The file formats bfpo reads rows from. */
export type FileFormat = 'json' | 'jsonl' | 'parquet';

/** The format of a data file from its extension, or a DataError for an unknown one. */
export function fileFormat(file: string): FileFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') return 'json';
  if (ext === '.parquet') return 'parquet';
  throw new DataError(file, -1, '', `unknown data file extension "${ext}" (expected .json, .jsonl, .ndjson or .parquet)`);
}

/**
 * `.json` files written by the datasets library (`Dataset.to_json`) hold JSON Lines; a `.json` file whose first
 * non-blank character is `{` is therefore read as JSONL, one starting with `[` as an array.
 */
async function jsonIsLines(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    return text.startsWith('{');
  } finally {
    await handle.close();
  }
}

/** Throws a DataError when the file does not exist or is not a file. */
export async function assertFile(file: string): Promise<void> {
  const info = await stat(file).catch(() => null);
  if (!info) throw new DataError(file, -1, '', 'file not found');
  if (!info.isFile()) throw new DataError(file, -1, '', 'not a file');
}

/**
 * Streams the rows of a JSON, JSONL or Parquet file; `end` stops after that many rows. A `.json` file holding
 * JSON Lines (as `Dataset.to_json` writes them) is read as JSONL.
 *
 * @example
 * for await (const { row, value } of readRows('data/train.jsonl', { end: 100 })) use(value);
 */
export async function* readRows(file: string, opts: { end?: number } = {}): AsyncGenerator<RawRow> {
  const format = fileFormat(file);
  await assertFile(file);
  if (format === 'jsonl' || (format === 'json' && (await jsonIsLines(file)))) yield* readJsonl(file, opts);
  else if (format === 'json') yield* readJsonArray(file, opts);
  else yield* readParquet(file, opts);
}

/** Counts the rows of a data file (Parquet: from the footer; JSON/JSONL: one streaming pass without parsing). */
export async function countRows(file: string): Promise<number> {
  const format = fileFormat(file);
  await assertFile(file);
  if (format === 'jsonl' || (format === 'json' && (await jsonIsLines(file)))) return countJsonl(file);
  if (format === 'json') return countJsonArray(file);
  return countParquet(file);
}
