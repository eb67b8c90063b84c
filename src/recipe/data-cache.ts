// The tokenized-data cache of a recipe: its folder, its key (data file hashes, tokenizer files, every setting that
// changes the tokens) and the lookup that `train`, `sft`, `logps` and `prepare` share.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataFileHash } from '../data/file-hash.js';
import { readTokenizedCache, writeTokenizedCache, type TokenizedKind, type TokenizedSplits } from '../data/tokenized-cache.js';
import type { RunSettings } from './settings.js';

/** Files of a tokenizer folder that decide its ids and its chat template (the ones loadTokenizer reads). */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'chat_template.json'];

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
 * Everything the tokenized data of a run depends on besides its files: the task, the mixer settings (datasets and
 * fractions, splits, mixer seed, skip_invalid, test_split_size, buffer), tokenization mode and lengths, packing,
 * assistant_only_loss, the recipe's chat template and how special-token strings in content tokenize.
 */
export function tokenizedSettings(s: RunSettings): Record<string, unknown> {
  const t = s.tokenize;
  const common = { task: s.task, data: s.data, tokenization: t.mode, chat_template: s.model.chatTemplate, content_special_tokens: s.model.contentSpecialTokens };
  return s.task === 'preference'
    ? { ...common, max_length: t.maxLength, max_prompt_length: t.maxPromptLength }
    : { ...common, max_seq_length: t.maxSeqLength, packing: t.packing, assistant_only_loss: t.packing ? null : t.assistantOnlyLoss };
}

/** The cache key: sha256 of the data files' hashes, the tokenizer files' hashes and {@link tokenizedSettings}. */
export function tokenizedCacheKey(s: RunSettings, files: readonly DataFileHash[]): string {
  const parts = {
    format: 1,
    files: files.map((f) => ({ file: f.file, bytes: f.bytes, sha256: f.sha256 })),
    tokenizer: tokenizerIdentity(s.model.tokenizerPath),
    settings: tokenizedSettings(s),
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/**
 * The tokenized splits from the cache when an intact entry exists, else from `compute`, then stored. With
 * `tokenized_cache: false` it only computes. Logs one line saying which, with the entry's path, and a warning when
 * a damaged entry was found or the entry could not be written.
 */
export async function cachedTokenized<K extends TokenizedKind, S extends TokenizedSplits<K>>(
  s: RunSettings, kind: K, files: readonly DataFileHash[], compute: () => Promise<S>, log: (line: string) => void,
): Promise<S> {
  if (!s.tokenizedCache.enabled) return compute();
  const dir = s.tokenizedCache.dir;
  const key = tokenizedCacheKey(s, files);
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
