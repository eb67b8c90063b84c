// The rows `bfpo prepare --dump` writes: exactly the token ids and labels a training step reads, one JSON object per
// example (or packed block), with where it came from. Labels are -100 where no loss is taken, unshifted.
import { IGNORE_INDEX } from './collate.js';
import type { PackedSftBlock } from './pack-sft.js';
import type { TokenizedPair, TokenizedSequence } from './tokenize.js';
import type { TokenizedSft } from './tokenize-sft.js';

/** One preference pair as dumped. */
export interface PreferenceDumpRow {
  dataset: string;
  row: number;
  chosen_input_ids: number[];
  chosen_labels: number[];
  rejected_input_ids: number[];
  rejected_labels: number[];
  is_chosen_safe: 0 | 1;
  is_rejected_safe: 0 | 1;
}

/** One SFT conversation as dumped; a packed block lists the dataset and row of every conversation it holds. */
export interface SftDumpRow {
  dataset: string | string[];
  row: number | number[];
  input_ids: number[];
  labels: number[];
}

function sequenceLabels(s: TokenizedSequence): number[] {
  return Array.from(s.ids, (id, i) => (i < s.promptLength ? IGNORE_INDEX : id));
}

/**
 * A tokenized pair as a dump row: prompt positions get label -100, answer positions their token id.
 *
 * @example preferenceDumpRow(pair).chosen_labels // [-100, -100, ..., 16230, 28808, 2]
 */
export function preferenceDumpRow(pair: TokenizedPair): PreferenceDumpRow {
  return {
    dataset: pair.source.dataset,
    row: pair.source.row,
    chosen_input_ids: Array.from(pair.chosen.ids),
    chosen_labels: sequenceLabels(pair.chosen),
    rejected_input_ids: Array.from(pair.rejected.ids),
    rejected_labels: sequenceLabels(pair.rejected),
    is_chosen_safe: pair.isChosenSafe,
    is_rejected_safe: pair.isRejectedSafe,
  };
}

/** A tokenized conversation or packed block as a dump row: label -100 where `learn` is 0. */
export function sftDumpRow(item: TokenizedSft | PackedSftBlock): SftDumpRow {
  const packed = 'sources' in item;
  return {
    dataset: packed ? item.sources.map((s) => s.dataset) : item.source.dataset,
    row: packed ? item.sources.map((s) => s.row) : item.source.row,
    input_ids: Array.from(item.ids),
    labels: Array.from(item.ids, (id, i) => (item.learn[i] ? id : IGNORE_INDEX)),
  };
}

/**
 * The first `n` items in `order` (training order) as JSON lines, one row per line, ending with a newline.
 *
 * @example dumpJsonLines(pairs, source.itemOrder(0), 5, preferenceDumpRow)
 */
export function dumpJsonLines<T>(items: readonly T[], order: readonly number[], n: number, toRow: (item: T) => object): string {
  return order.slice(0, Math.max(0, n)).map((i) => `${JSON.stringify(toRow(items[i]!))}\n`).join('');
}
