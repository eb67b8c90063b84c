// The dataset mixer of the original recipes: `dataset_mixer` (name → fraction) and `dataset_splits`. Train splits
// keep their first int(fraction × rows) rows, are concatenated in mixer order and shuffled with the seed; test
// splits are never subsampled (concatenated and shuffled the same way). Used for the buffer mixer too.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ArgumentError, expected } from '../errors.js';
import { adapterById, adapterForName, type DatasetAdapter } from './adapters/index.js';
import { hasSplit } from './dataset-files.js';
import { findInHubCache, isHubRepoId } from '../io/hf-cache.js';
import { DataError, SkipReport } from './errors.js';
import { hashDataFiles, type DataFileHash } from './file-hash.js';
import { loadSplit, splitRowCounts } from './load.js';
import { Prng } from './prng.js';
import type { DataTask, ExampleOf } from './types.js';

/** Options of {@link mixDatasets}. Keys mirror the recipe keys of the original. */
export interface MixOptions<T extends DataTask> {
  /** `dataset_mixer`: dataset name (as the original names it, or a local path) → fraction of its train rows in [0, 1] (see checkMixerFraction). */
  mixer: Record<string, number>;
  /** `dataset_splits`: split names; those containing "train" are training splits, "test" evaluation. Default ["train", "test"]. */
  splits?: string[];
  task: T;
  /** Shuffle seed (the original uses 42). */
  seed?: number;
  /** Shuffle the concatenation (default true). */
  shuffle?: boolean;
  /** Local path per dataset name; otherwise `dataDir/<name>`, otherwise the name itself as a path. */
  paths?: Record<string, string>;
  dataDir?: string;
  /** Per dataset: requested split → split name in its files (defaults from the adapter, e.g. train → train_prefs). */
  splitNames?: Record<string, Record<string, string>>;
  /** Per dataset: adapter id (default: from the name, else from the columns). */
  adapters?: Record<string, string | DatasetAdapter>;
  /** Skip invalid rows (reported) instead of stopping. */
  skipInvalid?: boolean;
  /**
   * `test_split_size`: for a dataset without a test split of its own (a single data file, or a folder lacking it),
   * hold rows of its train split out as the test split: a fraction in (0, 1) or a row count. The rows are picked with
   * the seed and never train; the train fraction applies to the rows left.
   */
  testSplitSize?: number;
  /** Compute a sha256 of every data file read (`Mixture.files`); default true. */
  hashFiles?: boolean;
  /** Called as data files are hashed, with the bytes hashed and the bytes in all (e.g. for a progress display). */
  onHashProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** What was taken from each dataset split. */
export interface MixCount {
  dataset: string;
  split: string;
  kind: 'train' | 'test';
  rows: number;
  taken: number;
  examples: number;
  /** Rows of this (train) split held out as the test split by `testSplitSize`. */
  heldOut?: number;
}

/** One log line for a {@link MixCount}: `data NAME [split]: 6 examples (6 of 8 rows, 2 held out as test)`. */
export function describeCount(c: MixCount): string {
  const held = c.heldOut ? `, ${c.heldOut} held out as test` : '';
  return `data ${c.dataset} [${c.split}]: ${c.examples} examples (${c.taken} of ${c.rows} rows${held})`;
}

/** Result of {@link mixDatasets}. */
export interface Mixture<T extends DataTask> {
  train: ExampleOf<T>[];
  test: ExampleOf<T>[];
  counts: MixCount[];
  report: SkipReport;
  /** Things the user should know about the mix (e.g. a test split that is the training rows). */
  warnings: string[];
  /** Every data file read, with its content hash (empty with `hashFiles: false`). */
  files: DataFileHash[];
}

/** The warning for a single data file asked for a test split without `testSplitSize`. */
export function testIsTrainWarning(name: string): string {
  return `${name} has no test split of its own, so its test rows are its training rows (as the original's loader did); `
    + 'set test_split_size to hold rows out as a test split that never trains';
}

/** The local path of a dataset name: `paths`, else `dataDir/<name>`, else the name as a path, else its Hugging Face cache snapshot. */
export function datasetPath(name: string, opts: { paths?: Record<string, string>; dataDir?: string }): string {
  if (opts.paths?.[name]) return opts.paths[name]!;
  if (opts.dataDir && existsSync(join(opts.dataDir, name))) return join(opts.dataDir, name);
  if (!existsSync(name) && isHubRepoId(name)) return findInHubCache(name, 'dataset').path ?? name;
  return name;
}

function splitKind(split: string): 'train' | 'test' {
  if (split.includes('train')) return 'train';
  if (split.includes('test')) return 'test';
  throw new ArgumentError(`Expected a split name containing "train" or "test" for dataset_splits but received "${split}"`);
}

function fileSplit(name: string, split: string, adapter: DatasetAdapter | undefined, opts: MixOptions<DataTask>): string {
  return opts.splitNames?.[name]?.[split] ?? adapter?.splits?.[split] ?? split;
}

/**
 * Builds the train and test sets of a recipe's mixer.
 *
 * @example
 * const { train, test, report } = await mixDatasets({
 *   mixer: { 'PKU-Alignment/PKU-SafeRLHF': 0.2 }, splits: ['train', 'test'], task: 'preference', seed: 42,
 *   paths: { 'PKU-Alignment/PKU-SafeRLHF': '/data/pku-saferlhf' },
 * });
 */
export async function mixDatasets<T extends DataTask>(opts: MixOptions<T>): Promise<Mixture<T>> {
  const splits = opts.splits ?? ['train', 'test'];
  const entries = Object.entries(opts.mixer);
  if (entries.length === 0) throw expected('at least one dataset', 'dataset_mixer', opts.mixer);
  for (const [name, frac] of entries) checkMixerFraction(frac, `dataset_mixer["${name}"]`);
  const size = opts.testSplitSize;
  if (size !== undefined && !isTestSplitSize(size)) {
    throw expected('a fraction in (0, 1) or a whole number of rows', 'test_split_size', size);
  }
  const report = new SkipReport();
  const warnings: string[] = [];
  const read: string[] = [];
  const counts: MixCount[] = [];
  const train: ExampleOf<T>[] = [];
  const test: ExampleOf<T>[] = [];
  for (const [name, frac] of entries) {
    const explicit = opts.adapters?.[name];
    const known = explicit ? (typeof explicit === 'string' ? adapterById(explicit) : explicit) : adapterForName(name);
    const path = datasetPath(name, opts);
    // A single data file serves its rows as both train and test (the original's red-teaming mapping) unless
    // test_split_size holds rows out.
    const singleFile = size === undefined && isFile(path);
    const actualOf = (split: string): string =>
      singleFile && splitKind(split) === 'test' ? 'train' : fileSplit(name, split, known, opts as MixOptions<DataTask>);
    if (singleFile && splits.some((s) => splitKind(s) === 'test')) warnings.push(testIsTrainWarning(name));
    const load = async (split: string, limit: number) => {
      const out = await loadSplit({ path, split, task: opts.task, name, adapter: known, limit, skipInvalid: opts.skipInvalid, report });
      read.push(...out.files);
      return out;
    };
    // Test splits the dataset lacks are carved out of its train split when test_split_size is set.
    const missingTests = size === undefined ? [] : await asyncFilter(splits, async (s) => splitKind(s) === 'test' && !(await hasSplit(path, actualOf(s))));
    const trainSplit = splits.find((s) => splitKind(s) === 'train') ?? 'train';
    const held = missingTests.length > 0 ? await holdOut(path, actualOf(trainSplit), size!, opts.seed ?? 42) : null;
    // The split rows are held out of is read once, whole, then divided (so a skipped row is reported once).
    let heldExamples: ExampleOf<T>[] | undefined;
    const heldSplit = async (): Promise<ExampleOf<T>[]> => (heldExamples ??= (await load(held!.split, held!.rows)).examples);
    for (const split of splits) {
      const kind = splitKind(split);
      const actual = actualOf(split);
      if (held && missingTests.includes(split)) {
        const examples = await heldSplit();
        const out = examples.filter((e) => held.test.has(e.source.row));
        test.push(...out);
        counts.push({ dataset: name, split: `${split} (held out of ${held.split})`, kind, rows: held.rows, taken: held.test.size, examples: out.length });
        continue;
      }
      if (held && kind === 'train' && actual === held.split) {
        // The first int(fraction x rows left) of the rows not held out, in file order.
        const left = [...Array(held.rows).keys()].filter((r) => !held.test.has(r));
        const keep = new Set(left.slice(0, Math.floor(frac * left.length)));
        const kept = (await heldSplit()).filter((e) => keep.has(e.source.row));
        train.push(...kept);
        counts.push({ dataset: name, split: actual, kind, rows: held.rows, taken: keep.size, examples: kept.length, heldOut: held.test.size });
        continue;
      }
      const rows = await rowCount(path, actual);
      const taken = kind === 'train' ? Math.floor(frac * rows) : rows;
      const { examples } = await load(actual, taken);
      (kind === 'train' ? train : test).push(...examples);
      counts.push({ dataset: name, split: actual, kind, rows, taken, examples: examples.length });
    }
  }
  if (opts.shuffle ?? true) {
    new Prng(opts.seed ?? 42).shuffle(train);
    new Prng(opts.seed ?? 42).shuffle(test);
  }
  const files = opts.hashFiles === false ? [] : await hashDataFiles(read, opts.onHashProgress);
  return { train, test, counts, report, warnings, files };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Rows of a split, across its shards. */
async function rowCount(path: string, split: string): Promise<number> {
  return (await splitRowCounts(path, split)).reduce((a, c) => a + c.rows, 0);
}

/**
 * The one rule for a mixer fraction, the share of a dataset's train split to take: a number in [0, 1], as the
 * original (which rejects only negative fractions). 0 takes none of its train rows; its test split still counts
 * in full. Throws naming `where` otherwise.
 */
export function checkMixerFraction(frac: unknown, where: string): number {
  if (typeof frac !== 'number' || !(frac >= 0 && frac <= 1)) throw expected('a fraction in [0, 1]', where, frac);
  return frac;
}

/** Whether `x` is a valid `test_split_size`: a fraction in (0, 1) or a whole number of rows (at least 1). */
export function isTestSplitSize(x: unknown): x is number {
  return typeof x === 'number' && ((x > 0 && x < 1) || (Number.isInteger(x) && x >= 1));
}

async function asyncFilter<T>(items: T[], keep: (x: T) => Promise<boolean>): Promise<T[]> {
  const out: T[] = [];
  for (const x of items) if (await keep(x)) out.push(x);
  return out;
}

/** The row numbers of `split` held out as a test split: `size` rows (or that fraction, rounded up), picked with the seed. */
async function holdOut(path: string, split: string, size: number, seed: number): Promise<{ split: string; rows: number; test: Set<number> }> {
  const rows = await rowCount(path, split);
  const n = size < 1 ? Math.ceil(size * rows) : size;
  if (n >= rows) {
    throw new DataError(path, -1, '', `test_split_size ${size} holds out ${n} of the ${rows} rows of split "${split}", leaving none to train on`);
  }
  const order = new Prng(seed).shuffle([...Array(rows).keys()]);
  return { split, rows, test: new Set(order.slice(0, n)) };
}
