// What a dataset adapter is: how one public dataset format maps rows to the canonical examples.
import type { RowContext } from '../fields.js';
import type { PreferenceExample, SftExample, Message } from '../types.js';

/** Maps raw rows of one dataset format to canonical examples. Methods throw DataError on a bad row. */
export interface DatasetAdapter {
  /** Short id used in options and messages, e.g. "pku-saferlhf". */
  readonly id: string;
  /** Dataset names as the original names them on the hub, e.g. "PKU-Alignment/PKU-SafeRLHF". */
  readonly hubNames: readonly string[];
  /** Columns whose presence identifies the format (all must be present). */
  readonly columns: readonly string[];
  /** Split names of the format when they differ from "train"/"test", e.g. { train: 'train_prefs' }. */
  readonly splits?: Readonly<Record<string, string>>;
  /** Row → preference pair; absent when the format has no pairs. */
  preference?(rec: Record<string, unknown>, ctx: RowContext): Omit<PreferenceExample, 'source'>;
  /** Row → SFT conversation; absent when the format has no conversations. */
  sft?(rec: Record<string, unknown>, ctx: RowContext): Omit<SftExample, 'source'>;
}

/** The prompt the original builds from a single user text: an empty system message, then the user turn. */
export function promptFromText(text: string): Message[] {
  return [{ role: 'system', content: '' }, { role: 'user', content: text }];
}

/** Prepends an empty system message when the conversation has none, as the original does for preference data. */
export function withSystem(messages: Message[]): Message[] {
  return messages[0]?.role === 'system' ? messages : [{ role: 'system', content: '' }, ...messages];
}
