// Everything a preference run needs from its data, done up front: mix (main and buffer), validate every row,
// tokenize. Any data error surfaces here, before the first training step.
import { SkipReport } from './errors.js';
import type { DataFileHash } from './file-hash.js';
import { describeCount, mixDatasets, type MixCount, type MixOptions } from './mixer.js';
import { tokenizePairs, type TokenizePairsOptions } from './tokenize-parallel.js';
import type { TokenizedPair } from './tokenize.js';
import type { BatchTextEncoder, TextTokenizer } from './tokenizer.js';

/** Options of {@link preparePreferenceData}. */
export interface PreparePreferenceOptions {
  main: MixOptions<'preference'>;
  /** The buffer mixer (UltraFeedback in the original); omitted when the run uses no buffer. */
  buffer?: MixOptions<'preference'>;
  tokenizer: TextTokenizer;
  tokenize: TokenizePairsOptions;
  /**
   * Builds the batch encoder that encodes the pairs' texts (see `TokenizePairsOptions.encoder`); called once, only
   * when the pairs are tokenized (not when `tokenized` finds them cached).
   */
  encoder?: () => Promise<BatchTextEncoder>;
  /** Receives one line per dataset split and the skip report. */
  log?: (line: string) => void;
  /**
   * Wraps the tokenization once the data is mixed, e.g. with a cache keyed by the files read: called with every
   * data file read and the function that tokenizes the splits `train`, `test` and `bufferTrain`.
   */
  tokenized?: (files: DataFileHash[], compute: () => Promise<PairSplits>) => Promise<PairSplits>;
}

/** The tokenized splits of a preference run. */
export interface PairSplits { [split: string]: TokenizedPair[]; train: TokenizedPair[]; test: TokenizedPair[]; bufferTrain: TokenizedPair[] }

/** Tokenized data of a preference run. */
export interface PreparedPreferenceData {
  train: TokenizedPair[];
  test: TokenizedPair[];
  bufferTrain: TokenizedPair[];
  counts: MixCount[];
  report: SkipReport;
  /** Every data file read (main and buffer) with its sha256. */
  files: DataFileHash[];
  warnings: string[];
}

/**
 * Mixes, validates and tokenizes the main and buffer data of a preference run.
 *
 * @example
 * const data = await preparePreferenceData({
 *   main: { mixer: { 'data/pku-saferlhf': 0.2 }, task: 'preference', seed: 42 },
 *   tokenizer, tokenize: { maxLength: 1024, maxPromptLength: 512 }, log: console.log,
 * });
 */
export async function preparePreferenceData(opts: PreparePreferenceOptions): Promise<PreparedPreferenceData> {
  const main = await mixDatasets(opts.main);
  const buffer = opts.buffer ? await mixDatasets(opts.buffer) : undefined;
  const report = new SkipReport();
  report.merge(main.report);
  if (buffer) report.merge(buffer.report);
  const counts = [...main.counts, ...(buffer?.counts ?? [])];
  const warnings = [...main.warnings, ...(buffer?.warnings ?? [])];
  for (const c of counts) opts.log?.(describeCount(c));
  for (const w of warnings) opts.log?.(`warning: ${w}`);
  if (report.skipped > 0) opts.log?.(report.toString());
  const compute = async (): Promise<PairSplits> => {
    const encoder = await opts.encoder?.();
    const tok = (examples: typeof main.train) => tokenizePairs(examples, opts.tokenizer, encoder ? { ...opts.tokenize, encoder } : opts.tokenize);
    return { train: await tok(main.train), test: await tok(main.test), bufferTrain: buffer ? await tok(buffer.train) : [] };
  };
  const files = [...main.files, ...(buffer?.files ?? [])];
  const splits = opts.tokenized ? await opts.tokenized(files, compute) : await compute();
  return { train: splits.train, test: splits.test, bufferTrain: splits.bufferTrain, counts, report, files, warnings };
}
