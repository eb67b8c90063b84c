// Parquet reader over hyparquet: reads the footer, then one row group at a time, so only one row group of a
// large shard is decoded in memory. Nested columns (lists of {role, content} structs) arrive as JS arrays of objects.
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DataError } from './errors.js';
import type { RawRow } from './types.js';

async function openParquet(file: string): Promise<{ buffer: Awaited<ReturnType<typeof asyncBufferFromFile>>; metadata: FileMetaData }> {
  const buffer = await asyncBufferFromFile(file);
  try {
    return { buffer, metadata: await parquetMetadataAsync(buffer) };
  } catch (e) {
    throw new DataError(file, -1, '', `not a readable Parquet file (${(e as Error).message})`);
  }
}

/** Number of rows in a Parquet file, read from its footer. */
export async function countParquet(file: string): Promise<number> {
  return Number((await openParquet(file)).metadata.num_rows);
}

/** Names of the top-level columns of a Parquet file. */
export async function parquetColumns(file: string): Promise<string[]> {
  const { metadata } = await openParquet(file);
  const names: string[] = [];
  let i = 1;
  const schema = metadata.schema;
  const skip = (idx: number): number => {
    let next = idx + 1;
    for (let c = 0; c < (schema[idx]!.num_children ?? 0); c++) next = skip(next);
    return next;
  };
  while (i < schema.length) {
    names.push(schema[i]!.name);
    i = skip(i);
  }
  return names;
}

/**
 * Yields the rows of a Parquet file in order, decoding one row group at a time. INT64 columns arrive as bigint.
 *
 * @example
 * for await (const { row, value } of readParquet('data/train-00000-of-00001.parquet')) console.log(row, value);
 */
export async function* readParquet(file: string, opts: { end?: number } = {}): AsyncGenerator<RawRow> {
  const { buffer, metadata } = await openParquet(file);
  const total = Number(metadata.num_rows);
  const end = Math.min(opts.end ?? total, total);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    if (rowStart >= end) return;
    const rowEnd = Math.min(rowStart + Number(group.num_rows), end);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd, compressors });
    } catch (e) {
      throw new DataError(file, rowStart, '', `cannot decode the row group of rows ${rowStart}-${rowEnd - 1} (${(e as Error).message})`);
    }
    for (let i = 0; i < rows.length; i++) yield { row: rowStart + i, value: rows[i] };
    rowStart += Number(group.num_rows);
  }
}
