// Finds the files of a split in a local dataset folder laid out like a hub download:
// DIR/data/train-00000-of-00002.parquet, DIR/train_prefs-00000-of-00001.parquet, DIR/train.jsonl, DIR/test/*.json ...
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DataError } from './errors.js';

const DATA_EXT = /\.(parquet|jsonl|ndjson|json)$/i;

/** The split a data file belongs to from its name: "train-00000-of-00002.parquet" → "train". */
export function splitOfFile(name: string): string {
  const base = basename(name).replace(DATA_EXT, '');
  return base.replace(/-\d{5}-of-\d{5}.*$/, '').replace(/-[0-9a-f]{16,}$/i, '');
}

async function listDataFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && DATA_EXT.test(e.name)).map((e) => join(dir, e.name)).sort();
}

/** The split names available in a dataset folder (from DIR/data/, DIR/ and DIR/<split>/). */
export async function listSplits(dir: string): Promise<string[]> {
  const found = new Set<string>();
  for (const sub of [join(dir, 'data'), dir]) for (const f of await listDataFiles(sub)) found.add(splitOfFile(f));
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isDirectory() && e.name !== 'data' && (await listDataFiles(join(dir, e.name))).length > 0) found.add(e.name);
  }
  return [...found].sort();
}

/** Whether a dataset folder or data file has the split (the same lookup as {@link splitFiles}, without throwing). */
export async function hasSplit(path: string, split: string): Promise<boolean> {
  const info = await stat(path).catch(() => null);
  if (!info) return false;
  if (info.isFile()) return split === 'train' || splitOfFile(path) === split;
  return (await listSplits(path)).includes(split);
}

/**
 * The files of one split, in shard order. `path` is a dataset folder, or a single data file that serves as the
 * "train" split. Throws a DataError naming the folder and the splits it has when the split is absent.
 *
 * @example
 * await splitFiles('~/data/ultrafeedback_binarized', 'train_prefs') // ['.../data/train_prefs-00000-of-00001.parquet']
 */
export async function splitFiles(path: string, split: string): Promise<string[]> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new DataError(path, -1, '', 'dataset path not found (bfpo reads local copies only: map the dataset name to its folder with `paths` or `dataDir`)');
  if (info.isFile()) {
    if (split !== 'train' && splitOfFile(path) !== split) {
      const hint = split.includes('test') ? ' (set test_split_size to hold rows of it out as a test split)' : '';
      throw new DataError(path, -1, '', `unknown split "${split}": a single data file serves only the "train" split${hint}`);
    }
    return [path];
  }
  for (const sub of [join(path, 'data'), path]) {
    const files = (await listDataFiles(sub)).filter((f) => splitOfFile(f) === split);
    if (files.length > 0) return files;
  }
  const inFolder = await listDataFiles(join(path, split));
  if (inFolder.length > 0) return inFolder;
  const have = await listSplits(path);
  throw new DataError(path, -1, '', `unknown split "${split}" (this dataset has ${have.length ? have.map((s) => `"${s}"`).join(', ') : 'no data files'})`);
}
