// Errors of the evaluation layer: bad task files (naming file, row and field), judges and endpoints that fail.
import { BfpoError } from '../tensor/errors.js';

/** A task or prompt file that cannot be read as specified. Names the file, the row (1-based) and the field. */
export class TaskDataError extends BfpoError {
  constructor(readonly file: string, readonly row: number | null, readonly field: string | null, problem: string) {
    const where = [file, row === null ? null : `row ${row}`, field === null ? null : `field "${field}"`].filter(Boolean).join(', ');
    super(`${where}: ${problem}`);
  }
}

/** A judge that cannot work as configured (e.g. a judge model without single tokens for "yes" and "no"). */
export class JudgeError extends BfpoError {}

/**
 * A judge that stopped part-way. `partial[i]` holds the verdicts it did reach (undefined where it failed),
 * so a caller can keep them before reporting the error.
 */
export class JudgeIncompleteError<T> extends BfpoError {
  constructor(message: string, readonly partial: (T | undefined)[], override readonly cause?: unknown) {
    super(message);
  }
}
