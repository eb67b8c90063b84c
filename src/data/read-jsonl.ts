// JSON Lines reader: one JSON value per line, streamed line by line so large files never sit in memory whole.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseRow } from './read-json.js';
import type { RawRow } from './types.js';

/**
 * Yields the rows of a JSONL file in order; blank lines are ignored and do not count as rows.
 * A line that is not valid JSON yields a row whose `error` is a DataError naming the file, the row and the line.
 *
 * @example
 * for await (const { row, value } of readJsonl('train.jsonl')) console.log(row, value);
 */
export async function* readJsonl(file: string, opts: { end?: number } = {}): AsyncGenerator<RawRow> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let row = 0;
  let line = 0;
  try {
    for await (const text of lines) {
      line += 1;
      if (text.trim() === '') continue;
      if (opts.end !== undefined && row >= opts.end) return;
      yield parseRow(file, row, text, `line ${line} is `);
      row += 1;
    }
  } finally {
    lines.close();
    input.destroy();
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
