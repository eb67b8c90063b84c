// Reads prompt and task files (JSONL, JSON arrays, Parquet, plain text) into numbered records, and checks fields.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { TaskDataError } from './errors.js';

/** One record of a file and its 1-based row number (the line for JSONL and text, the index for Parquet/JSON). */
export interface NumberedRecord {
  row: number;
  record: Record<string, unknown>;
}

function fromJsonl(file: string, text: string): NumberedRecord[] {
  const out: NumberedRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new TaskDataError(file, i + 1, null, `not valid JSON (${(err as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new TaskDataError(file, i + 1, null, 'expected a JSON object on this line');
    }
    out.push({ row: i + 1, record: value as Record<string, unknown> });
  });
  return out;
}

function plainValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plainValue);
  return v;
}

/**
 * Reads every record of `file`: `.jsonl`/`.ndjson` (one object a line), `.json` (an array of objects), `.parquet`,
 * or `.txt` (one `{ text }` record a non-empty line).
 *
 * @example
 * for (const { row, record } of await readRecords('pku_test.parquet')) console.log(row, record.prompt);
 */
export async function readRecords(file: string): Promise<NumberedRecord[]> {
  const ext = extname(file).toLowerCase();
  if (ext === '.parquet') {
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: await asyncBufferFromFile(file) });
    } catch (err) {
      throw new TaskDataError(file, null, null, `cannot read as Parquet (${(err as Error).message})`);
    }
    return rows.map((r, i) => ({ row: i + 1, record: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plainValue(v)])) }));
  }
  if (!['.txt', '.json', '.jsonl', '.ndjson'].includes(ext)) {
    throw new TaskDataError(file, null, null, `unknown file type "${ext}" (expected .jsonl, .json, .parquet or .txt)`);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TaskDataError(file, null, null, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (ext === '.txt') {
    return text.split('\n').flatMap((line, i) => (line.trim() === '' ? [] : [{ row: i + 1, record: { text: line.trim() } }]));
  }
  if (ext === '.json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new TaskDataError(file, null, null, `not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(value)) throw new TaskDataError(file, null, null, 'expected a JSON array of objects');
    return value.map((record, i) => {
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        throw new TaskDataError(file, i + 1, null, 'expected a JSON object');
      }
      return { row: i + 1, record: record as Record<string, unknown> };
    });
  }
  return fromJsonl(file, text);
}

/** The non-empty string in `field` of a record, or a TaskDataError naming file, row and field. */
export function stringField(file: string, r: NumberedRecord, field: string): string {
  const v = r.record[field];
  if (v === undefined) throw new TaskDataError(file, r.row, field, 'missing');
  if (typeof v !== 'string' || v.trim() === '') throw new TaskDataError(file, r.row, field, `expected a non-empty string but found ${JSON.stringify(v)}`);
  return v;
}

/** The sample id of a record: its `id` field when present (string or number), else its row number. */
export function sampleId(r: NumberedRecord, idField = 'id'): string {
  const v = r.record[idField];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : `row${r.row}`;
}
