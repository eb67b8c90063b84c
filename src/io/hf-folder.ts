// Hugging Face model folders: find config.json and the safetensors weights (single file or sharded with an
// index). Pickle weights (`pytorch_model.bin`) are never read; a folder with only those gets conversion advice.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { FormatError } from './errors.js';
import { type ByteReader, runReader, runReaderAsync } from './byte-reads.js';
import { type LoadOptions, tensorsReader } from './safetensors.js';
import { SAFETENSORS_INDEX, shardedReader } from './safetensors-shards.js';

/** What a model folder holds: its config and where the weights are. */
export interface HfFolder {
  dir: string;
  config: Record<string, unknown>;
  /** `model.safetensors`, or `model.safetensors.index.json` for sharded weights. */
  weightsPath: string;
  sharded: boolean;
}

/** How to turn pickle weights into safetensors with Python, shown when a folder has only `.bin` files. */
export const PICKLE_ADVICE =
  'bfpo never reads pickle (.bin) weights, because unpickling can run arbitrary code. Convert the folder once with Python:\n' +
  "  python -c \"from transformers import AutoModelForCausalLM as M; M.from_pretrained('DIR').save_pretrained('DIR', safe_serialization=True)\"\n" +
  'or, for a single file, with the safetensors package:\n' +
  "  python -c \"import torch; from safetensors.torch import save_file; save_file({k: v.contiguous() for k, v in torch.load('pytorch_model.bin', weights_only=True).items()}, 'model.safetensors', metadata={'format': 'pt'})\"";

/** Reads a JSON object file, naming the file in any error. */
export function readJsonObject(path: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FormatError(path, `is not a readable JSON file: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new FormatError(path, 'must hold a JSON object');
  return json as Record<string, unknown>;
}

/**
 * Finds config.json and the weights of a Hugging Face model folder.
 *
 * @example
 * const f = findHfFolder('models/TinyLlama'); // { config, weightsPath: '.../model.safetensors', sharded: false }
 */
export function findHfFolder(dir: string): HfFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new FormatError(dir, 'is not a folder (expected a Hugging Face model folder with config.json and model.safetensors)');
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new FormatError(dir, 'has no config.json (looked for config.json beside the weights)');
  const config = readJsonObject(configPath);
  const single = join(dir, 'model.safetensors');
  const index = join(dir, SAFETENSORS_INDEX);
  if (existsSync(index)) return { dir, config, weightsPath: index, sharded: true };
  if (existsSync(single)) return { dir, config, weightsPath: single, sharded: false };
  const files = readdirSync(dir);
  const bins = files.filter((f) => f.endsWith('.bin') || f.endsWith('.pt') || f.endsWith('.pth'));
  if (bins.length > 0) throw new FormatError(dir, `has only pickle weights (${bins.join(', ')}). ${PICKLE_ADVICE}`);
  throw new FormatError(dir, `has no weights: looked for model.safetensors and ${SAFETENSORS_INDEX}`);
}

/** Loads all weights of a folder found by `findHfFolder`, single or sharded. */
export function loadHfWeights(folder: HfFolder, opts: LoadOptions = {}): Map<string, Tensor> {
  return runReader(hfWeightsReader(folder, opts));
}

/** `loadHfWeights` with the bytes read off the event loop. */
export function loadHfWeightsAsync(folder: HfFolder, opts: LoadOptions = {}): Promise<Map<string, Tensor>> {
  return runReaderAsync(hfWeightsReader(folder, opts));
}

/** The reader behind `loadHfWeights` and `loadHfWeightsAsync` (see byte-reads.ts). */
export function hfWeightsReader(folder: HfFolder, opts: LoadOptions = {}): ByteReader<Map<string, Tensor>> {
  return folder.sharded ? shardedReader(folder.weightsPath, opts) : tensorsReader([{ path: folder.weightsPath }], opts);
}
