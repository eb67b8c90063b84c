// Writes small Parquet files in the layout pyarrow gives Hugging Face datasets: UTF8 strings, INT32/INT64 numbers,
// list<T> as the three-level LIST (optional group / repeated "list" / optional "element"), structs as optional groups.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';

/** A column type: a leaf, a list of a type, or a struct of named types. */
export type ColumnType = 'string' | 'int32' | 'int64' | 'double' | { list: ColumnType } | { struct: Record<string, ColumnType> };

type SchemaElement = Parameters<typeof parquetWriteFile>[0]['schema'] extends (infer S)[] | undefined ? S : never;

function elements(name: string, t: ColumnType): SchemaElement[] {
  if (t === 'string') return [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }];
  if (t === 'int32') return [{ name, type: 'INT32', repetition_type: 'OPTIONAL' }];
  if (t === 'int64') return [{ name, type: 'INT64', repetition_type: 'OPTIONAL' }];
  if (t === 'double') return [{ name, type: 'DOUBLE', repetition_type: 'OPTIONAL' }];
  if ('list' in t) {
    return [{ name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 }, { name: 'list', repetition_type: 'REPEATED', num_children: 1 }, ...elements('element', t.list)];
  }
  const fields = Object.entries(t.struct);
  return [{ name, repetition_type: 'OPTIONAL', num_children: fields.length }, ...fields.flatMap(([k, v]) => elements(k, v))];
}

/** Writes `rows` (plain objects; int64 values as bigint) to `file` with the given column types, one row group. */
export function writeParquet(file: string, columns: Record<string, ColumnType>, rows: Record<string, unknown>[]): string {
  mkdirSync(dirname(file), { recursive: true });
  const names = Object.keys(columns);
  const schema = [{ name: 'schema', num_children: names.length }, ...names.flatMap((n) => elements(n, columns[n]))];
  parquetWriteFile({ filename: file, schema, columnData: names.map((name) => ({ name, data: rows.map((r) => r[name]) })) });
  return file;
}
