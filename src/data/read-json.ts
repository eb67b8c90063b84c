// JSON array reader: splits a top-level `[ {...}, {...} ]` into elements while streaming, so a large file is
// parsed one element at a time instead of with one JSON.parse over the whole text.
import { createReadStream } from 'node:fs';
import { DataError } from './errors.js';
import type { RawRow } from './types.js';

const OPEN_BRACE = 123, CLOSE_BRACE = 125, OPEN_BRACKET = 91, CLOSE_BRACKET = 93;
const QUOTE = 34, BACKSLASH = 92, COMMA = 44;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9 || c === 0xfeff;
}

/**
 * Bounds on one row, so a hostile file gives an error naming the row instead of exhausting memory or the stack:
 * the longest row text (in UTF-16 code units, about bytes for ASCII) and the deepest nesting of arrays and objects.
 */
export const ROW_LIMITS = { maxChars: 64 * 1024 * 1024, maxDepth: 512 };

/** The deepest nesting of `[`/`{` in JSON text outside strings (an early exit once past `limit`). */
function nestingDepth(text: string, limit: number): number {
  let depth = 0, deepest = 0, inString = false, escape = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escape) escape = false;
      else if (c === BACKSLASH) escape = true;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth += 1;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth -= 1;
  }
  return deepest;
}

/** The error row for a row whose text was longer than ROW_LIMITS.maxChars (its text was skipped, not kept). */
export function oversizeRow(file: string, row: number, chars: number, prefix: string): RawRow {
  return { row, value: undefined, error: new DataError(file, row, '', `${prefix}${chars} characters long, more than the ${ROW_LIMITS.maxChars} a row may have; it was skipped without being read into memory`) };
}

/** One row parsed from its JSON text; invalid JSON gives a row whose `error` names the file and the row. */
export function parseRow(file: string, row: number, text: string, prefix: string): RawRow {
  if (text.length > ROW_LIMITS.maxChars) return oversizeRow(file, row, text.length, prefix);
  if (nestingDepth(text, ROW_LIMITS.maxDepth) > ROW_LIMITS.maxDepth) {
    return { row, value: undefined, error: new DataError(file, row, '', `${prefix}nested more than ${ROW_LIMITS.maxDepth} arrays/objects deep`) };
  }
  try {
    return { row, value: JSON.parse(text) };
  } catch (e) {
    return { row, value: undefined, error: new DataError(file, row, '', `${prefix}not valid JSON (${(e as Error).message})`) };
  }
}

/**
 * Splits streamed text chunks of a JSON array into the source text of each top-level element; an element longer
 * than ROW_LIMITS.maxChars is dropped while it streams and yielded as its length.
 */
async function* arrayElements(file: string, chunks: AsyncIterable<string>): AsyncGenerator<string | number> {
  let state = 'start' as 'start' | 'between' | 'element' | 'done';
  let depth = 0, inString = false, escape = false;
  let parts: string[] = [];
  let kept = 0, dropped = 0;
  for await (const chunk of chunks) {
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (state === 'element') {
        if (inString) {
          if (escape) escape = false;
          else if (c === BACKSLASH) escape = true;
          else if (c === QUOTE) inString = false;
          continue;
        }
        if (c === QUOTE) inString = true;
        else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth += 1;
        else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && depth > 0) depth -= 1;
        else if (depth === 0 && (c === COMMA || c === CLOSE_BRACKET)) {
          const tail = i - from;
          if (dropped > 0 || kept + tail > ROW_LIMITS.maxChars) yield kept + dropped + tail;
          else {
            parts.push(chunk.slice(from, i));
            yield parts.join('');
          }
          parts = [];
          kept = 0;
          dropped = 0;
          state = c === COMMA ? 'between' : 'done';
        }
      } else if (isSpace(c)) {
        continue;
      } else if (state === 'start') {
        if (c !== OPEN_BRACKET) throw new DataError(file, -1, '', 'expected a JSON array of rows (the file must start with "[")');
        state = 'between';
      } else if (state === 'between') {
        if (c === CLOSE_BRACKET) state = 'done';
        else {
          state = 'element';
          from = i;
          i -= 1; // rescan this character as part of the element
        }
      } else {
        throw new DataError(file, -1, '', 'unexpected text after the closing "]" of the JSON array');
      }
    }
    if (state === 'element') {
      const piece = chunk.length - from;
      if (dropped > 0 || kept + piece > ROW_LIMITS.maxChars) {
        dropped += kept + piece;
        kept = 0;
        parts = [];
      } else {
        parts.push(chunk.slice(from));
        kept += piece;
      }
    }
  }
  if (state !== 'done') throw new DataError(file, -1, '', 'the JSON array is not closed (truncated file?)');
}

/**
 * Yields the elements of a JSON array file in order, streaming the file.
 *
 * @example
 * for await (const { row, value } of readJsonArray('red_team.json')) console.log(row, value);
 */
export async function* readJsonArray(file: string, opts: { end?: number } = {}): AsyncGenerator<RawRow> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let row = 0;
  try {
    for await (const text of arrayElements(file, stream as AsyncIterable<string>)) {
      if (opts.end !== undefined && row >= opts.end) return;
      yield typeof text === 'number' ? oversizeRow(file, row, text, '') : parseRow(file, row, text, '');
      row += 1;
    }
  } finally {
    stream.destroy();
  }
}

/** Counts the elements of a JSON array file without parsing them. */
export async function countJsonArray(file: string): Promise<number> {
  let n = 0;
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  for await (const _ of arrayElements(file, stream as AsyncIterable<string>)) n += 1;
  return n;
}
