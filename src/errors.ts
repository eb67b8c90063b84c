// The base error class of bfpo, argument errors and the one argument-check message shape (below every layer).

/** Base class of every error bfpo throws on purpose. */
export class BfpoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Raised when an argument fails a check made before any native work. */
export class ArgumentError extends BfpoError {}

/** Formats a value for an error message, briefly. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return value.length > 8 ? `[${value.slice(0, 8).map(describe).join(', ')}, ...]` : `[${value.map(describe).join(', ')}]`;
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  const name = (value as object).constructor?.name;
  if (name === 'Tensor') return String(value);
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/** The one message shape for argument checks: `Expected <what> for <name> but received <value>`. */
export function expected(what: string, name: string, value: unknown): ArgumentError {
  return new ArgumentError(`Expected ${what} for ${name} but received ${describe(value)}`);
}
