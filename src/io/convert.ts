// Whole-folder conversions between Hugging Face model folders and GGUF files (what `bfpo convert` runs).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { GgufArch, GgufFileType } from './gguf-llama.js';
import { ggufToHf, writeGgufFromHf } from './gguf-convert.js';
import { findHfFolder, loadHfWeights } from './hf-folder.js';
import { writeAtomic } from './atomic.js';
import { saveShardedSafetensors } from './safetensors-shards.js';
import { loadTokenizer, saveTokenizer } from './tokenizer.js';

/** Options of ggufToHfFolder: the families' GGUF naming and the largest shard. */
export interface GgufToHfFolderOptions { archs: readonly GgufArch[]; maxShardSize?: number | string }
/** Options of hfFolderToGguf: the families' GGUF naming, the matrices' type and general.name. */
export interface HfFolderToGgufOptions { archs: readonly GgufArch[]; fileType?: GgufFileType; name?: string }

/**
 * Writes a GGUF model as a Hugging Face folder: config.json, model.safetensors (sharded above `maxShardSize`,
 * in the GGUF's float type; Q8_0 becomes float32) and, when the GGUF has a tokenizer, tokenizer.json and
 * tokenizer_config.json. Returns the files written.
 *
 * @example
 * ggufToHfFolder('llama-2-tiny-random.gguf', 'out/tiny', { archs: ggufArchs() });
 */
export function ggufToHfFolder(ggufPath: string, outDir: string, opts: GgufToHfFolderOptions): string[] {
  const { config, weights, tokenizer } = ggufToHf(ggufPath, { archs: opts.archs });
  try {
    mkdirSync(outDir, { recursive: true });
    const files = saveShardedSafetensors(outDir, weights, { maxShardSize: opts.maxShardSize, metadata: { format: 'pt' } });
    writeAtomic(join(outDir, 'config.json'), (out) => out.write(Buffer.from(JSON.stringify(config, null, 2) + '\n')));
    files.push('config.json');
    if (tokenizer) {
      saveTokenizer(tokenizer, outDir);
      files.push('tokenizer.json', 'tokenizer_config.json');
    }
    return files;
  } finally {
    for (const w of weights.values()) w.dispose();
  }
}

/**
 * Writes a Hugging Face folder (config.json, safetensors weights, tokenizer.json when present) as one GGUF
 * file llama.cpp and ollama load.
 *
 * @example
 * hfFolderToGguf('models/TinyLlama', 'tinyllama-q8_0.gguf', { archs: ggufArchs(), fileType: 'Q8_0' });
 */
export function hfFolderToGguf(dir: string, outPath: string, opts: HfFolderToGgufOptions): void {
  const folder = findHfFolder(dir);
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? loadTokenizer(dir) : undefined;
  const weights = loadHfWeights(folder);
  try {
    writeGgufFromHf(outPath, { archs: opts.archs, config: folder.config, weights, tokenizer, fileType: opts.fileType, name: opts.name ?? (folder.config._name_or_path as string | undefined) });
  } finally {
    for (const w of weights.values()) w.dispose();
  }
}
