// JSON Lines reader: one JSON value per line, streamed line by line so large files never sit in memory whole.
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { oversizeRow, parseRow, ROW_LIMITS } from './read-json.js';
import type { RawRow } from './types.js';

/**
 * The lines of a file, streamed; a line longer than ROW_LIMITS.maxChars bytes is not kept in memory: it is yielded
 * as its length in bytes instead of its text.
 */
async function* boundedLines(file: string): AsyncGenerator<string | number> {
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  const decoder = new StringDecoder('utf8');
  let parts: Buffer[] = [];
  let kept = 0, dropped = 0;
  const finish = (): string | number => {
    const out = dropped > 0 ? kept + dropped : decoder.write(Buffer.concat(parts)) + decoder.end();
    parts = [];
    kept = 0;
    dropped = 0;
    return typeof out === 'string' && out.endsWith('\r') ? out.slice(0, -1) : out;
  };
  const add = (piece: Buffer): void => {
    if (dropped > 0 || kept + piece.length > ROW_LIMITS.maxChars) {
      dropped += kept + piece.length;
      kept = 0;
      parts = [];
    } else if (piece.length > 0) {
      parts.push(piece);
      kept += piece.length;
    }
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, from)) {
        add(chunk.subarray(from, nl));
        yield finish();
        from = nl + 1;
      }
      add(Buffer.from(chunk.subarray(from)));
    }
    if (kept > 0 || dropped > 0) yield finish();
  } finally {
    input.destroy();
  }
}

/**
 * Yields the rows of a JSONL file in order; blank lines are ignored and do not count as rows.
 * A line that is not valid JSON yields a row whose `error` is a DataError naming the file, the row and the line;
 * so does a line longer than ROW_LIMITS.maxChars or nested deeper than ROW_LIMITS.maxDepth, without reading it
 * into memory whole.
 *
 * @example
 * for await (const { row, value } of readJsonl('train.jsonl')) console.log(row, value);
 */
export async function* readJsonl(file: string, opts: { end?: number } = {}): AsyncGenerator<RawRow> {
  let row = 0;
  let line = 0;
  for await (const text of boundedLines(file)) {
    line += 1;
    if (typeof text === 'string' && text.trim() === '') continue;
    if (opts.end !== undefined && row >= opts.end) return;
    yield typeof text === 'number' ? oversizeRow(file, row, text, `line ${line} is `) : parseRow(file, row, text, `line ${line} is `);
    row += 1;
  }
}

/** Counts the non-blank lines of a JSONL file without parsing them. */
export async function countJsonl(file: string): Promise<number> {
  let count = 0;
  let inLine = false;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === 10) {
        if (inLine) count += 1;
        inLine = false;
      } else if (c !== 13 && c !== 32 && c !== 9) inLine = true;
    }
  }
  return inLine ? count + 1 : count;
}
