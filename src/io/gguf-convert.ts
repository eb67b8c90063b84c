// GGUF <-> Hugging Face models as Tensors: the edge where gguf-llama.ts's bytes become (or come from) tensors,
// and where GGUF tokenizer metadata becomes a Tokenizer.
import { type DType, type Device, isFloatingDtype } from '../tensor/dtype.js';
import { expected } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { closeSync, openSync } from 'node:fs';
import { type ByteReader, runReader, runReaderAsync } from './byte-reads.js';
import { decodeGgufTensor, ggufTensorBytesReader, readGguf, writeGguf } from './gguf.js';
import { type ExportTensor, type GgufArch, type GgufFileType, ggufMetadataFromConfig, ggufNameToHf, ggufTensorToHf, ggufTensorsFromHf, hfConfigFromGguf } from './gguf-llama.js';
import { ggufTokenizerMetadata, tokenizerFromGguf } from './gguf-tokenizer.js';
import { type TensorCheck, tensorFromBytes } from './safetensors.js';
import { Tokenizer } from './tokenizer.js';

/** What `ggufToHf` returns: config.json fields, weights under Hugging Face names, and the tokenizer (when the file has one). */
export interface GgufAsHf {
  config: Record<string, unknown>;
  weights: Map<string, Tensor>;
  tokenizer: Tokenizer | undefined;
}

/** Options of `ggufToHf`: the GGUF naming of the model families, and the dtype and device of the weights. */
export interface GgufToHfOptions {
  archs: readonly GgufArch[];
  dtype?: DType;
  device?: Device;
  /**
   * Given the config read from the header, the check of each tensor (Hugging Face name, dtype, shape) made before
   * it becomes a Tensor; the check throws to refuse the file.
   */
  checkFor?: (config: Record<string, unknown>) => TensorCheck;
}

/**
 * Reads a Llama-family GGUF file as a Hugging Face model: config.json fields, weights under HF names in HF
 * layout (Q/K rows un-permuted, Q8_0 dequantised), and the tokenizer built from the GGUF vocabulary.
 *
 * @example
 * const { config, weights, tokenizer } = ggufToHf('llama-2-tiny-random.gguf', { archs: ggufArchs(), dtype: 'float32' });
 * weights.get('model.layers.0.self_attn.q_proj.weight'); // Tensor(float32[8, 8])
 */
export function ggufToHf(path: string, opts: GgufToHfOptions): GgufAsHf {
  return runReader(ggufToHfReader(path, opts));
}

/** `ggufToHf` with the tensor bytes read off the event loop (Node's thread pool). */
export function ggufToHfAsync(path: string, opts: GgufToHfOptions): Promise<GgufAsHf> {
  return runReaderAsync(ggufToHfReader(path, opts));
}

/**
 * The reader behind `ggufToHf` (see byte-reads.ts): the header and vocabulary are read at once, then the tensors
 * one at a time, so peak memory is the model plus one tensor's bytes.
 */
export function* ggufToHfReader(path: string, opts: GgufToHfOptions): ByteReader<GgufAsHf> {
  if (opts.dtype !== undefined && !isFloatingDtype(opts.dtype)) throw expected('a floating dtype', 'ggufToHf dtype', opts.dtype);
  const file = readGguf(path);
  const config = hfConfigFromGguf(file, opts.archs);
  const tokenizer = file.metadata['tokenizer.ggml.model'] === undefined
    ? undefined
    : (({ tokenizerJson, tokenizerConfig }) => new Tokenizer(tokenizerJson, tokenizerConfig, `${path} tokenizer`))(tokenizerFromGguf(file));
  const check = opts.checkFor?.(config);
  // Every tensor is checked (by its header entry) before any tensor bytes are read; GGUF tensors decode to floats.
  if (check) {
    for (const info of file.tensors) {
      const hf = ggufNameToHf(info.name);
      if (hf !== undefined) check(path, hf, info.type === 'F16' ? 'float16' : info.type === 'BF16' ? 'bfloat16' : 'float32', info.shape);
    }
  }
  const weights = new Map<string, Tensor>();
  const fd = openSync(path, 'r');
  try {
    for (const info of file.tensors) {
      const stored = decodeGgufTensor(file, info.name, yield* ggufTensorBytesReader(file, info.name, fd));
      const { name, tensor: t } = ggufTensorToHf(file, config, info.name, opts.archs, () => stored);
      check?.(path, name, t.dtype, t.shape);
      weights.set(name, tensorFromBytes(t.bytes, t.dtype, t.shape, { dtype: opts.dtype, device: opts.device }));
    }
  } catch (err) {
    for (const w of weights.values()) w.dispose();
    throw err;
  } finally {
    closeSync(fd);
  }
  return { config, weights, tokenizer };
}

/**
 * Writes a Hugging Face-layout model (config, weights, optional tokenizer) as a GGUF file llama.cpp loads:
 * F32, F16 or Q8_0 matrices (norms stay F32), Q/K rows permuted for llama, tokenizer metadata from
 * tokenizer.json. The write is atomic.
 *
 * @example
 * writeGgufFromHf('model.gguf', { archs: ggufArchs(), config, weights: model.stateDict(), tokenizer, fileType: 'Q8_0' });
 */
export function writeGgufFromHf(path: string, spec: {
  /** The GGUF naming of the registered model families (models/'s ggufArchs()). */
  archs: readonly GgufArch[];
  config: Record<string, unknown>;
  weights: Map<string, Tensor> | Record<string, Tensor>;
  tokenizer?: Tokenizer;
  fileType?: GgufFileType;
  name?: string;
}): void {
  const fileType = spec.fileType ?? 'F16';
  const { arch, metadata } = ggufMetadataFromConfig(spec.config, fileType, spec.archs, spec.name);
  const entries = spec.weights instanceof Map ? [...spec.weights] : Object.entries(spec.weights);
  const exports = new Map<string, ExportTensor>(entries.map(([k, t]) => [k, {
    shape: t.shape,
    float32: () => {
      const f = t.to('float32');
      try { return f.toTypedArray() as Float32Array; } finally { f.dispose(); }
    },
    float16: () => {
      const h = t.to('float16');
      try { return h.toBuffer(); } finally { h.dispose(); }
    },
  }]));
  const tensors = ggufTensorsFromHf(arch, spec.config, exports, fileType);
  const tok = spec.tokenizer ? ggufTokenizerMetadata(spec.tokenizer.tokenizerJson, spec.tokenizer.tokenizerConfig, spec.tokenizer.source) : {};
  writeGguf(path, { metadata: { ...metadata, ...tok }, tensors });
}
