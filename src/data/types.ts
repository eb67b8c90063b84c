// Canonical examples shared by every dataset format: the trainer only ever sees these shapes.

/** One chat turn. */
export interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Where an example came from: the dataset (file or name) and its zero-based row in that file or split. */
export interface ExampleSource {
  dataset: string;
  row: number;
}

/**
 * A preference pair with a safety label per response. `chosen` is the MORE HELPFUL response; safety enters only
 * through the labels (1 = safe).
 */
export interface PreferenceExample {
  prompt: Message[];
  chosen: Message[];
  rejected: Message[];
  isChosenSafe: 0 | 1;
  isRejectedSafe: 0 | 1;
  source: ExampleSource;
}

/** A supervised fine-tuning conversation. */
export interface SftExample {
  messages: Message[];
  source: ExampleSource;
}

/** What a dataset is used for: preference pairs (BFPO, DPO family) or SFT conversations. */
export type DataTask = 'preference' | 'sft';

/** The example type that belongs to a task. */
export type ExampleOf<T extends DataTask> = T extends 'preference' ? PreferenceExample : SftExample;

/** A raw row as a reader yields it, with its zero-based index in the file. */
export interface RawRow {
  row: number;
  value: unknown;
  /** Set instead of `value` when the row itself cannot be parsed (e.g. a JSONL line that is not JSON). */
  error?: import('./errors.js').DataError;
}
