// The tokenized-data cache of a recipe: its folder, its key (data file hashes, tokenizer files, every setting that
// changes the tokens) and the lookup that `train`, `sft`, `logps` and `prepare` share.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { DataFileHash } from '../data/file-hash.js';
import { readTokenizedCache, writeTokenizedCache, type TokenizedKind, type TokenizedSplits } from '../data/tokenized-cache.js';
import { dataSettings } from './data-settings.js';
import type { Recipe } from './recipe.js';

/** Files of a tokenizer folder that decide its ids and its chat template (the ones loadTokenizer reads). */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'chat_template.json'];

/** The folder of the cache: tokenized_cache_dir, else $XDG_CACHE_HOME/bfpo/tokenized (~/.cache/bfpo/tokenized). */
export function tokenizedCacheDir(r: Recipe): string {
  const dir = r.values.tokenized_cache_dir as string | null;
  return dir ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bfpo', 'tokenized');
}

/** The tokenizer folder a recipe reads: tokenizer_name_or_path, else model_name_or_path. */
export function tokenizerFolder(r: Recipe): string {
  return (r.values.tokenizer_name_or_path as string | null) ?? (r.values.model_name_or_path as string);
}

/** The sha256 of each tokenizer file present in `folder`, by file name. */
function tokenizerIdentity(folder: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of TOKENIZER_FILES) {
    const p = join(folder, f);
    if (existsSync(p)) out[f] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

/**
 * Everything the tokenized data of a recipe depends on besides its files: the task, the mixer settings (datasets and
 * fractions, splits, mixer seed, skip_invalid, test_split_size, buffer), tokenization mode and lengths, packing,
 * assistant_only_loss and the recipe's chat template.
 */
export function tokenizedSettings(r: Recipe, task: 'preference' | 'sft'): Record<string, unknown> {
  const v = r.values;
  const common = { task, data: dataSettings(r, task), tokenization: v.tokenization, chat_template: v.chat_template ?? null };
  return task === 'preference'
    ? { ...common, max_length: v.max_length, max_prompt_length: v.max_prompt_length }
    : { ...common, max_seq_length: v.max_seq_length, packing: v.packing === true, assistant_only_loss: v.packing === true ? null : v.assistant_only_loss !== false };
}

/** The cache key: sha256 of the data files' hashes, the tokenizer files' hashes and {@link tokenizedSettings}. */
export function tokenizedCacheKey(r: Recipe, task: 'preference' | 'sft', files: readonly DataFileHash[]): string {
  const parts = {
    format: 1,
    files: files.map((f) => ({ file: f.file, bytes: f.bytes, sha256: f.sha256 })),
    tokenizer: tokenizerIdentity(tokenizerFolder(r)),
    settings: tokenizedSettings(r, task),
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/**
 * The tokenized splits from the cache when an intact entry exists, else from `compute`, then stored. With
 * `tokenized_cache: false` it only computes. Logs one line saying which, with the entry's path, and a warning when
 * a damaged entry was found.
 */
export async function cachedTokenized<K extends TokenizedKind, S extends TokenizedSplits<K>>(
  r: Recipe, task: 'preference' | 'sft', kind: K, files: readonly DataFileHash[], compute: () => Promise<S>, log: (line: string) => void,
): Promise<S> {
  if (r.values.tokenized_cache === false) return compute();
  const dir = tokenizedCacheDir(r);
  const key = tokenizedCacheKey(r, task, files);
  const hit = readTokenizedCache(dir, key, kind);
  if (hit.splits) {
    log(`tokenized data read from the cache ${join(dir, `${key}.bin`)}`);
    return hit.splits as S;
  }
  if (hit.warning) log(`warning: ${hit.warning}`);
  const splits = await compute();
  try {
    const path = writeTokenizedCache(dir, key, kind, splits);
    log(`tokenized data computed and stored in the cache ${path}`);
  } catch (e) {
    log(`warning: tokenized data computed but not cached: ${(e as Error).message}`);
  }
  return splits;
}
