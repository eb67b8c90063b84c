// Errors of the evaluation layer: bad task files (naming file, row and field), judges and endpoints that fail.
import { DataError } from '../data/errors.js';
import { BfpoError } from '../errors.js';

/**
 * A task, prompt or recipe file that cannot be used as specified. Like every data error it names the file, the row
 * (zero-based, as in the data layer; absent for the whole file) and the field.
 */
export class TaskDataError extends DataError {
  constructor(file: string, row: number | null, field: string | null, problem: string) {
    super(file, row ?? -1, field ?? '', problem);
  }
}

/** A judge that cannot work as configured (e.g. a judge model without single tokens for "yes" and "no"). */
export class JudgeError extends BfpoError {}

/**
 * A judge that stopped part-way. `partial[i]` holds the verdicts it did reach (undefined where it failed),
 * so a caller can keep them before reporting the error; `failures` says which items failed and why, when known.
 */
export class JudgeIncompleteError<T> extends BfpoError {
  constructor(message: string, readonly partial: (T | undefined)[], override readonly cause?: unknown, readonly failures: { index: number; error: string }[] = []) {
    super(message);
  }
}

/** An output folder holding answers made with other prompts or decoding settings than the run asks for. */
export class StaleResultsError extends BfpoError {}
