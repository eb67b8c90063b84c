// Append-only JSONL stores keyed by model + task + sample id: every finished sample is written at once, so a rerun
// skips it and an interrupted run loses nothing it had finished.
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

function endsMidLine(path: string): boolean {
  if (!existsSync(path)) return false;
  const size = statSync(path).size;
  if (size === 0) return false;
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, size - 1);
    return b[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}

/** A stored record: its key fields plus anything else. */
export interface StoredRecord {
  model: string;
  task: string;
  id: string;
  [field: string]: unknown;
}

/**
 * One JSONL file of records, read once on open and appended to one line per record. A half-written last line
 * (the process died mid-write) is ignored on reading and the sample is done again.
 *
 * @example
 * const gens = new JsonlStore('out/generations.jsonl');
 * if (!gens.has('base', 'advbench', '3')) gens.append({ model: 'base', task: 'advbench', id: '3', generation });
 */
export class JsonlStore<T extends StoredRecord = StoredRecord> {
  private readonly records = new Map<string, T>();
  /** Records appended are only remembered, never written (a copy of another process's store). */
  readonly inMemory: boolean;
  /**
   * Extra key fields beyond model, task and id (e.g. the judge's name). With `text`, the records are read from it
   * instead of the file, and the store never writes (`inMemory`).
   */
  constructor(readonly path: string, private readonly extraKey: (r: T) => string = () => '', text?: string) {
    this.inMemory = text !== undefined;
    if (text === undefined && !existsSync(path)) return;
    const lines = (text ?? readFileSync(path, 'utf8')).split('\n');
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        const r = JSON.parse(line) as T;
        this.records.set(this.key(r.model, r.task, r.id, this.extraKey(r)), r);
      } catch {
        // An interrupted write leaves at most one partial line; its sample is simply redone.
      }
    }
  }

  private key(model: string, task: string, id: string, extra = ''): string {
    return JSON.stringify([model, task, id, extra]);
  }

  has(model: string, task: string, id: string, extra = ''): boolean {
    return this.records.has(this.key(model, task, id, extra));
  }

  get(model: string, task: string, id: string, extra = ''): T | undefined {
    return this.records.get(this.key(model, task, id, extra));
  }

  /** Writes records, one line each, and remembers them. */
  append(...records: T[]): void {
    if (records.length === 0) return;
    if (this.inMemory) {
      for (const r of records) this.records.set(this.key(r.model, r.task, r.id, this.extraKey(r)), r);
      return;
    }
    mkdirSync(dirname(this.path), { recursive: true });
    // A file that ends without a newline was cut mid-line; start on a fresh line so the new record stays readable.
    const prefix = endsMidLine(this.path) ? '\n' : '';
    appendFileSync(this.path, prefix + records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    for (const r of records) this.records.set(this.key(r.model, r.task, r.id, this.extraKey(r)), r);
  }

  /** Every stored record. */
  all(): T[] {
    return [...this.records.values()];
  }
}
