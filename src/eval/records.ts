// Reads prompt and task files into numbered records: JSONL, JSON and Parquet through the data layer's readers,
// plain text one record a line; and the field checks that name file, row and field.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { DataError } from '../data/errors.js';
import { readRows } from '../data/read-rows.js';
import { TaskDataError } from './errors.js';

/** One record of a file and its zero-based row (the data layer's numbering). */
export interface NumberedRecord {
  row: number;
  record: Record<string, unknown>;
}

function plainValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plainValue);
  return v;
}

/**
 * Reads every record of `file`: `.jsonl`/`.ndjson`, `.json` (an array, or JSON Lines as `Dataset.to_json` writes),
 * `.parquet` (any compression), or `.txt` (one `{ text }` record a non-empty line).
 *
 * @example
 * for (const { row, record } of await readRecords('pku_test.parquet')) console.log(row, record.prompt);
 */
export async function readRecords(file: string): Promise<NumberedRecord[]> {
  if (extname(file).toLowerCase() === '.txt') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new TaskDataError(file, null, null, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((line, row) => ({ row, record: { text: line } }));
  }
  const out: NumberedRecord[] = [];
  try {
    for await (const { row, value, error } of readRows(file)) {
      if (error) throw error;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TaskDataError(file, row, null, 'expected a JSON object');
      out.push({ row, record: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainValue(v)])) });
    }
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new TaskDataError(file, null, null, `cannot read the file (${(err as Error).message})`);
  }
  return out;
}

/** The non-empty string in `field` of a record, or a TaskDataError naming file, row and field. */
export function stringField(file: string, r: NumberedRecord, field: string): string {
  const v = r.record[field];
  if (v === undefined) throw new TaskDataError(file, r.row, field, 'missing');
  if (typeof v !== 'string' || v.trim() === '') throw new TaskDataError(file, r.row, field, `expected a non-empty string but found ${JSON.stringify(v)}`);
  return v;
}

/** The sample id of a record: its `id` field when present (string or number), else `row<N>`. */
export function sampleId(r: NumberedRecord, idField = 'id'): string {
  const v = r.record[idField];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : `row${r.row}`;
}
