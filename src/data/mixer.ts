// The dataset mixer of the original recipes: `dataset_mixer` (name → fraction) and `dataset_splits`. Train splits
// keep their first int(fraction × rows) rows, are concatenated in mixer order and shuffled with the seed; test
// splits are never subsampled (concatenated and shuffled the same way). Used for the buffer mixer too.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArgumentError, expected } from '../tensor/errors.js';
import { adapterById, adapterForName, type DatasetAdapter } from './adapters/index.js';
import { SkipReport } from './errors.js';
import { loadSplit, splitRowCounts } from './load.js';
import { Prng } from './prng.js';
import type { DataTask, ExampleOf } from './types.js';

/** Options of {@link mixDatasets}. Keys mirror the recipe keys of the original. */
export interface MixOptions<T extends DataTask> {
  /** `dataset_mixer`: dataset name (as the original names it, or a local path) → fraction of its train rows, 0..1. */
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
}

/** What was taken from each dataset split. */
export interface MixCount {
  dataset: string;
  split: string;
  kind: 'train' | 'test';
  rows: number;
  taken: number;
  examples: number;
}

/** Result of {@link mixDatasets}. */
export interface Mixture<T extends DataTask> {
  train: ExampleOf<T>[];
  test: ExampleOf<T>[];
  counts: MixCount[];
  report: SkipReport;
}

/** The local path of a dataset name. */
export function datasetPath(name: string, opts: { paths?: Record<string, string>; dataDir?: string }): string {
  if (opts.paths?.[name]) return opts.paths[name]!;
  if (opts.dataDir && existsSync(join(opts.dataDir, name))) return join(opts.dataDir, name);
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
  for (const [name, frac] of entries) {
    if (typeof frac !== 'number' || !(frac >= 0 && frac <= 1)) throw expected('a fraction between 0 and 1', `dataset_mixer["${name}"]`, frac);
  }
  const report = new SkipReport();
  const counts: MixCount[] = [];
  const train: ExampleOf<T>[] = [];
  const test: ExampleOf<T>[] = [];
  for (const [name, frac] of entries) {
    const explicit = opts.adapters?.[name];
    const known = explicit ? (typeof explicit === 'string' ? adapterById(explicit) : explicit) : adapterForName(name);
    const path = datasetPath(name, opts);
    for (const split of splits) {
      const kind = splitKind(split);
      const actual = fileSplit(name, split, known, opts as MixOptions<DataTask>);
      const rows = (await splitRowCounts(path, actual)).reduce((a, c) => a + c.rows, 0);
      const taken = kind === 'train' ? Math.floor(frac * rows) : rows;
      const { examples } = await loadSplit({
        path, split: actual, task: opts.task, name, adapter: known, limit: taken, skipInvalid: opts.skipInvalid, report,
      });
      (kind === 'train' ? train : test).push(...examples);
      counts.push({ dataset: name, split: actual, kind, rows, taken, examples: examples.length });
    }
  }
  if (opts.shuffle ?? true) {
    new Prng(opts.seed ?? 42).shuffle(train);
    new Prng(opts.seed ?? 42).shuffle(test);
  }
  return { train, test, counts, report };
}

/**
 * Reads the data keys of a recipe (snake_case, as the original's YAML) into mixer options. `which` picks
 * `dataset_mixer`/`dataset_splits` or `buffer_dataset_mixer`/`buffer_dataset_splits`.
 *
 * @example
 * const buffer = await mixDatasets(mixOptionsFromRecipe(recipe, 'buffer', 'preference'));
 */
export function mixOptionsFromRecipe<T extends DataTask>(recipe: Record<string, unknown>, which: 'main' | 'buffer', task: T): MixOptions<T> {
  const prefix = which === 'buffer' ? 'buffer_' : '';
  const mixer = recipe[`${prefix}dataset_mixer`];
  if (!mixer || typeof mixer !== 'object' || Array.isArray(mixer)) throw expected('a mapping of dataset name to fraction', `${prefix}dataset_mixer`, mixer);
  const splits = recipe[`${prefix}dataset_splits`] ?? ['train', 'test'];
  if (!Array.isArray(splits) || !splits.every((s) => typeof s === 'string')) throw expected('a list of split names', `${prefix}dataset_splits`, splits);
  const seed = recipe.seed ?? 42;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw expected('an integer', 'seed', seed);
  return { mixer: mixer as Record<string, number>, splits, task, seed };
}
