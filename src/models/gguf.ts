// GGUF <-> Hugging Face conversion for the registered model families: io/'s converters given the registry's
// GGUF naming (general.architecture, metadata prefix, Q/K row permutation).
import { type GgufToHfFolderOptions, type HfFolderToGgufOptions, ggufToHfFolder as ioGgufToHfFolder, hfFolderToGguf as ioHfFolderToGguf } from '../io/convert.js';
import { ggufToHf as ioGgufToHf, writeGgufFromHf as ioWriteGgufFromHf } from '../io/gguf-convert.js';
import type { GgufArch } from '../io/gguf-llama.js';
import { ggufArchs } from './registry.js';

type WithArchs<T> = Omit<T, 'archs'> & { archs?: readonly GgufArch[] };

/**
 * Reads a GGUF file of a registered family as a Hugging Face model: config.json fields, weights under HF names
 * in HF layout (Q/K rows un-permuted, Q8_0 dequantised) and the tokenizer built from the GGUF vocabulary.
 *
 * @example
 * const { config, weights, tokenizer } = ggufToHf('llama-2-tiny-random.gguf', { dtype: 'float32' });
 */
export function ggufToHf(path: string, opts: WithArchs<Parameters<typeof ioGgufToHf>[1]> = {}): ReturnType<typeof ioGgufToHf> {
  return ioGgufToHf(path, { ...opts, archs: opts.archs ?? ggufArchs() });
}

/**
 * Writes a Hugging Face-layout model of a registered family as a GGUF file llama.cpp loads (atomic).
 *
 * @example
 * writeGgufFromHf('model.gguf', { config, weights: model.stateDict(), tokenizer, fileType: 'Q8_0' });
 */
export function writeGgufFromHf(path: string, spec: WithArchs<Parameters<typeof ioWriteGgufFromHf>[1]>): void {
  ioWriteGgufFromHf(path, { ...spec, archs: spec.archs ?? ggufArchs() });
}

/**
 * Writes a GGUF model as a Hugging Face folder; returns the files written.
 *
 * @example
 * ggufToHfFolder('llama-2-tiny-random.gguf', 'out/tiny');
 */
export function ggufToHfFolder(ggufPath: string, outDir: string, opts: WithArchs<GgufToHfFolderOptions> = {}): string[] {
  return ioGgufToHfFolder(ggufPath, outDir, { ...opts, archs: opts.archs ?? ggufArchs() });
}

/**
 * Writes a Hugging Face folder as one GGUF file llama.cpp and ollama load.
 *
 * @example
 * hfFolderToGguf('models/TinyLlama', 'tinyllama-q8_0.gguf', { fileType: 'Q8_0' });
 */
export function hfFolderToGguf(dir: string, outPath: string, opts: WithArchs<HfFolderToGgufOptions> = {}): void {
  ioHfFolderToGguf(dir, outPath, { ...opts, archs: opts.archs ?? ggufArchs() });
}
