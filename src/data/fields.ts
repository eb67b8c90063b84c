// Field checks used by the dataset adapters: each returns the typed value or throws a DataError naming the field.
import { DataError } from './errors.js';
import type { Message } from './types.js';

/** The place a value is read from, for error messages. */
export interface RowContext {
  file: string;
  row: number;
}

const ROLES = new Set(['system', 'user', 'assistant']);

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** The row as an object, or an error when it is something else. */
export function asRecord(ctx: RowContext, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DataError(ctx.file, ctx.row, '', `expected an object per row but found ${typeName(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Reads a field that must be present. */
export function field(ctx: RowContext, rec: Record<string, unknown>, name: string): unknown {
  const v = rec[name];
  if (v === undefined || v === null) throw new DataError(ctx.file, ctx.row, name, 'missing field');
  return v;
}

/** Reads a string field; `nonEmpty` rejects text that is empty after trimming whitespace. */
export function stringField(ctx: RowContext, rec: Record<string, unknown>, name: string, nonEmpty = false): string {
  const v = field(ctx, rec, name);
  if (typeof v !== 'string') throw new DataError(ctx.file, ctx.row, name, `expected a string but found ${typeName(v)}`);
  if (nonEmpty && v.trim() === '') throw new DataError(ctx.file, ctx.row, name, 'empty text');
  return v;
}

/**
 * Reads a field that must be one of `allowed` (numbers; booleans count as 0/1, bigints as numbers). With
 * `digitStrings`, a string of digits counts as its number too ("2" → 2), as Python's `int(value)` reads it.
 */
export function choiceField(ctx: RowContext, rec: Record<string, unknown>, name: string, allowed: number[], digitStrings = false): number {
  const v = field(ctx, rec, name);
  const n = typeof v === 'boolean' ? Number(v) : typeof v === 'bigint' ? Number(v)
    : digitStrings && typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !allowed.includes(n)) {
    throw new DataError(ctx.file, ctx.row, name, `expected one of ${allowed.join(', ')} but found ${JSON.stringify(typeof v === 'bigint' ? Number(v) : v)}`);
  }
  return n;
}

/** Reads a safety label: 0/1, false/true (and "0"/"1" with `digitStrings`). Absent labels take `fallback` when one is given. */
export function safetyField(ctx: RowContext, rec: Record<string, unknown>, name: string, fallback?: 0 | 1, digitStrings = false): 0 | 1 {
  if (fallback !== undefined && (rec[name] === undefined || rec[name] === null)) return fallback;
  return choiceField(ctx, rec, name, [0, 1], digitStrings) as 0 | 1;
}

/** Checks a message list: an array of `{ role, content }` with known roles and string content. */
export function messagesValue(ctx: RowContext, name: string, v: unknown): Message[] {
  if (!Array.isArray(v)) throw new DataError(ctx.file, ctx.row, name, `expected a list of messages but found ${typeName(v)}`);
  return v.map((m, i) => {
    const where = `${name}[${i}]`;
    if (m === null || typeof m !== 'object') throw new DataError(ctx.file, ctx.row, where, `expected a message object but found ${typeName(m)}`);
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw new DataError(ctx.file, ctx.row, `${where}.role`, `expected "system", "user" or "assistant" but found ${JSON.stringify(role)}`);
    }
    if (typeof content !== 'string') throw new DataError(ctx.file, ctx.row, `${where}.content`, `expected a string but found ${typeName(content)}`);
    return { role: role as Message['role'], content };
  });
}

/** Reads a message-list field. */
export function messagesField(ctx: RowContext, rec: Record<string, unknown>, name: string): Message[] {
  return messagesValue(ctx, name, field(ctx, rec, name));
}

/** Text or a message list: text becomes one message of `role`. */
export function textOrMessages(ctx: RowContext, rec: Record<string, unknown>, name: string, role: Message['role']): Message[] {
  const v = field(ctx, rec, name);
  if (typeof v === 'string') return [{ role, content: v }];
  return messagesValue(ctx, name, v);
}

/** Rejects a response whose text is empty after trimming. */
export function nonEmptyResponse(ctx: RowContext, name: string, messages: Message[]): Message[] {
  const last = messages[messages.length - 1];
  if (!last || last.content.trim() === '') throw new DataError(ctx.file, ctx.row, name, 'empty response');
  return messages;
}
