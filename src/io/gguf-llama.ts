// Llama-style models in GGUF <-> Hugging Face layout: tensor names, the rotary row permutation of Q and K,
// config.json fields from `<arch>.*` metadata and back. The family naming (GgufArch) is passed in by the caller.
import { expected } from '../errors.js';
import { FormatError } from './errors.js';
import { type GgmlType, type GgufFile, type GgufTensorData, type GgufValue, ggufScalar, readGgufTensor } from './gguf.js';
import { Q8_0_BLOCK, floatToHalf, quantizeQ8_0 } from './gguf-quant.js';

/**
 * How one model family is named in GGUF. The model-family registry (models/) supplies these; every function
 * here that needs the family takes the list of them as an argument.
 */
export interface GgufArch {
  /** `general.architecture`, also the prefix of the family's metadata keys (`llama.block_count`). */
  name: string;
  /** HF classes exported under this name. */
  hfClasses: readonly string[];
  /** HF class and model_type written to config.json on import. */
  hfClass: string;
  modelType: string;
  /** Whether llama.cpp stores Q and K rows permuted (adjacent-pair rotation). */
  permuteQk: boolean;
  /** Family-specific numeric config keys stored as `<name>.<gguf>` metadata (beyond the Llama-style ones). */
  extraKeys?: readonly { hf: string; gguf: string; type: 'uint32' | 'float32' }[];
}

const GLOBAL_NAMES: [string, string][] = [['model.embed_tokens', 'token_embd'], ['model.norm', 'output_norm'], ['lm_head', 'output']];
const LAYER_NAMES: [string, string][] = [
  ['input_layernorm', 'attn_norm'], ['self_attn.q_proj', 'attn_q'], ['self_attn.k_proj', 'attn_k'], ['self_attn.v_proj', 'attn_v'],
  ['self_attn.o_proj', 'attn_output'], ['post_attention_layernorm', 'ffn_norm'], ['mlp.gate_proj', 'ffn_gate'],
  ['mlp.up_proj', 'ffn_up'], ['mlp.down_proj', 'ffn_down'],
];

/** `blk.3.attn_q.weight` -> `model.layers.3.self_attn.q_proj.weight`; undefined for names with no HF counterpart. */
export function ggufNameToHf(name: string): string | undefined {
  const m = /^(.*)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const g = GLOBAL_NAMES.find(([, gg]) => gg === m[1]);
  if (g) return `${g[0]}.${m[2]}`;
  const b = /^blk\.(\d+)\.(.+)$/.exec(m[1]);
  const l = b && LAYER_NAMES.find(([, gg]) => gg === b[2]);
  return b && l ? `model.layers.${b[1]}.${l[0]}.${m[2]}` : undefined;
}

/** `model.layers.3.self_attn.q_proj.weight` -> `blk.3.attn_q.weight`; undefined for names with no GGUF counterpart. */
export function hfNameToGguf(name: string): string | undefined {
  const m = /^(.*)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const g = GLOBAL_NAMES.find(([hf]) => hf === m[1]);
  if (g) return `${g[1]}.${m[2]}`;
  const b = /^model\.layers\.(\d+)\.(.+)$/.exec(m[1]);
  const l = b && LAYER_NAMES.find(([hf]) => hf === b[2]);
  return b && l ? `blk.${b[1]}.${l[1]}.${m[2]}` : undefined;
}

/**
 * llama.cpp's converter reorders the rows of each head of Q and K: viewing a head's rows as [2, headDim/2] it
 * stores them as [headDim/2, 2] (Hugging Face rotates the two halves of a head; llama.cpp rotates adjacent
 * pairs). `toGguf` applies that reordering, otherwise it is undone. Works on raw rows of any element type.
 */
export function permuteQkRows(bytes: Uint8Array, rows: number, nHead: number, toGguf: boolean): Buffer {
  if (rows % nHead !== 0 || (rows / nHead) % 2 !== 0) throw expected(`rows divisible into ${nHead} heads of even size`, 'Q/K rows', rows);
  const rowBytes = bytes.byteLength / rows;
  const half = rows / nHead / 2;
  const out = Buffer.allocUnsafe(bytes.byteLength);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const gguf = h * 2 * half + i * 2 + j;
        const hf = h * 2 * half + j * half + i;
        const [dst, src] = toGguf ? [gguf, hf] : [hf, gguf];
        out.set(bytes.subarray(src * rowBytes, (src + 1) * rowBytes), dst * rowBytes);
      }
    }
  }
  return out;
}

/** A Hugging Face config.json (as a plain object) for the model described by GGUF metadata. */
export function hfConfigFromGguf(file: GgufFile, archs: readonly GgufArch[]): Record<string, unknown> {
  const arch = ggufScalar<string>(file, 'general.architecture', 'string');
  const info = archs.find((a) => a.name === arch);
  if (!info) throw new FormatError(file.path, `architecture ${JSON.stringify(arch)} is not supported (supported: ${archs.map((a) => a.name).join(', ')})`, 'general.architecture');
  const num = (key: string, required = true): number | undefined => {
    const v = ggufScalar<number>(file, `${arch}.${key}`, 'number');
    if (v === undefined && required) throw new FormatError(file.path, 'is missing', `${arch}.${key}`);
    if (v !== undefined && !(v > 0 && Number.isFinite(v))) throw new FormatError(file.path, `must be a positive number, found ${v}`, `${arch}.${key}`);
    return v;
  };
  const hidden = num('embedding_length')!;
  const heads = num('attention.head_count')!;
  const tokens = file.metadata['tokenizer.ggml.tokens'];
  const embed = file.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embed) throw new FormatError(file.path, 'tensor is missing', 'token_embd.weight');
  const f32 = (v: number | undefined): number | undefined => (v === undefined ? undefined : Number(v.toPrecision(7)));
  const scaling = ggufScalar<string>(file, `${arch}.rope.scaling.type`, 'string');
  if (file.tensors.some((t) => t.name === 'rope_freqs.weight')) {
    throw new FormatError(file.path, 'holds precomputed rope frequencies (Llama 3.1-style rope scaling), which bfpo cannot map back to rope_scaling', 'rope_freqs.weight');
  }
  if (scaling !== undefined && scaling !== 'none' && scaling !== 'linear') {
    throw new FormatError(file.path, `rope scaling ${JSON.stringify(scaling)} is not supported (supported: none, linear)`, `${arch}.rope.scaling.type`);
  }
  const headDim = num('attention.key_length', false) ?? num('rope.dimension_count', false) ?? hidden / heads;
  const firstType = file.tensors.find((t) => t.shape.length === 2)?.type;
  const config: Record<string, unknown> = {
    architectures: [info.hfClass],
    model_type: info.modelType,
    hidden_size: hidden,
    intermediate_size: num('feed_forward_length'),
    num_hidden_layers: num('block_count'),
    num_attention_heads: heads,
    num_key_value_heads: num('attention.head_count_kv', false) ?? heads,
    head_dim: headDim,
    rms_norm_eps: f32(num('attention.layer_norm_rms_epsilon')),
    rope_theta: f32(num('rope.freq_base', false)) ?? 10000,
    max_position_embeddings: num('context_length', false) ?? 2048,
    vocab_size: tokens?.type === 'array' ? tokens.value.length : embed.shape[0],
    hidden_act: 'silu',
    attention_bias: file.tensors.some((t) => t.name === 'blk.0.attn_q.bias'),
    tie_word_embeddings: !file.tensors.some((t) => t.name === 'output.weight'),
    torch_dtype: firstType === 'F16' ? 'float16' : firstType === 'BF16' ? 'bfloat16' : 'float32',
  };
  if (scaling === 'linear') config.rope_scaling = { type: 'linear', factor: f32(num('rope.scaling.factor')) };
  for (const k of info.extraKeys ?? []) {
    const v = ggufScalar<number>(file, `${arch}.${k.gguf}`, 'number');
    if (v !== undefined) config[k.hf] = k.type === 'float32' ? f32(v) : v;
  }
  const bos = ggufScalar<number>(file, 'tokenizer.ggml.bos_token_id', 'number');
  const eos = ggufScalar<number>(file, 'tokenizer.ggml.eos_token_id', 'number');
  if (bos !== undefined) config.bos_token_id = bos;
  if (eos !== undefined) config.eos_token_id = eos;
  return config;
}

/** A tensor in Hugging Face layout as float bytes. */
export interface FloatBytes {
  dtype: 'float32' | 'float16' | 'bfloat16';
  shape: number[];
  bytes: Buffer;
}

/**
 * One GGUF tensor in Hugging Face name and layout (Q8_0 dequantised to float32, Q/K rows un-permuted for
 * llama). Tensors with no Hugging Face counterpart are refused by name. `read` gives the tensor's float bytes
 * (default: read from the file now).
 */
export function ggufTensorToHf(
  file: GgufFile, config: Record<string, unknown>, name: string, archs: readonly GgufArch[], read: () => FloatBytes = () => readGgufTensor(file, name),
): { name: string; tensor: FloatBytes } {
  const hf = ggufNameToHf(name);
  if (!hf) throw new FormatError(file.path, 'has no Hugging Face counterpart (unsupported tensor for this architecture)', name);
  const t = read();
  const isQ = /\.attn_q\./.test(name);
  if (archs.find((a) => a.modelType === config.model_type)?.permuteQk === true && (isQ || /\.attn_k\./.test(name))) {
    const heads = (isQ ? config.num_attention_heads : config.num_key_value_heads) as number;
    if (!Number.isInteger(heads) || t.shape[0] % (2 * heads) !== 0) {
      throw new FormatError(file.path, `${t.shape[0]} rows cannot be split into ${heads} heads of even size (check the head counts)`, name);
    }
    t.bytes = permuteQkRows(t.bytes, t.shape[0], heads, false);
  }
  return { name: hf, tensor: t };
}

/** Every tensor of a GGUF model in Hugging Face names and layout, plus the config (all in memory at once). */
export function ggufToHfTensors(file: GgufFile, archs: readonly GgufArch[]): { config: Record<string, unknown>; tensors: Map<string, FloatBytes> } {
  const config = hfConfigFromGguf(file, archs);
  const tensors = new Map<string, FloatBytes>();
  for (const info of file.tensors) {
    const { name, tensor } = ggufTensorToHf(file, config, info.name, archs);
    tensors.set(name, tensor);
  }
  return { config, tensors };
}

/** GGUF file type codes (llama_ftype) for the whole-file type written to general.file_type. */
const FILE_TYPES = { F32: 0, F16: 1, Q8_0: 7 } as const;
export type GgufFileType = keyof typeof FILE_TYPES;

/** A weight to export: its HF-layout shape and a way to get its values as float32 and as float16 bytes. */
export interface ExportTensor {
  shape: number[];
  float32: () => Float32Array;
  float16?: () => Uint8Array;
}

/** GGUF model metadata (`<arch>.*`, `general.*`) from a Hugging Face config.json object. */
export function ggufMetadataFromConfig(
  config: Record<string, unknown>, fileType: GgufFileType, archs: readonly GgufArch[], name = 'bfpo export',
): { arch: GgufArch; metadata: Record<string, GgufValue> } {
  const cls = (Array.isArray(config.architectures) ? config.architectures[0] : undefined) as string | undefined;
  const info = archs.find((a) => cls !== undefined && a.hfClasses.includes(cls));
  if (!info) throw expected(`one of ${archs.flatMap((a) => a.hfClasses).join(', ')}`, 'config.architectures[0]', cls);
  const arch = info.name;
  const int = (key: string, fallback?: number): number => {
    const v = config[key] ?? fallback;
    if (!Number.isInteger(v) || (v as number) <= 0) throw expected('a positive integer', `config.${key}`, v);
    return v as number;
  };
  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  const headDim = int('head_dim', hidden / heads);
  const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
  const f32 = (value: number): GgufValue => ({ type: 'float32', value });
  const metadata: Record<string, GgufValue> = {
    'general.architecture': { type: 'string', value: arch },
    'general.name': { type: 'string', value: name },
    'general.file_type': u32(FILE_TYPES[fileType]),
    [`${arch}.context_length`]: u32(int('max_position_embeddings', 2048)),
    [`${arch}.embedding_length`]: u32(hidden),
    [`${arch}.block_count`]: u32(int('num_hidden_layers')),
    [`${arch}.feed_forward_length`]: u32(int('intermediate_size')),
    [`${arch}.rope.dimension_count`]: u32(headDim),
    [`${arch}.attention.head_count`]: u32(heads),
    [`${arch}.attention.head_count_kv`]: u32(int('num_key_value_heads', heads)),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(Number(config.rms_norm_eps ?? 1e-6)),
    [`${arch}.rope.freq_base`]: f32(Number(config.rope_theta ?? 10000)),
    [`${arch}.vocab_size`]: u32(int('vocab_size')),
  };
  if (headDim !== hidden / heads) {
    metadata[`${arch}.attention.key_length`] = u32(headDim);
    metadata[`${arch}.attention.value_length`] = u32(headDim);
  }
  const rs = config.rope_scaling as { type?: string; rope_type?: string; factor?: number } | null | undefined;
  const kind = rs ? rs.rope_type ?? rs.type : undefined;
  if (kind === 'linear') {
    metadata[`${arch}.rope.scaling.type`] = { type: 'string', value: 'linear' };
    metadata[`${arch}.rope.scaling.factor`] = f32(Number(rs!.factor));
  } else if (kind !== undefined && kind !== 'default') {
    throw expected("no rope_scaling or rope_scaling of type 'linear' (GGUF export)", 'config.rope_scaling', kind);
  }
  for (const k of info.extraKeys ?? []) {
    const v = config[k.hf];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || (k.type === 'uint32' && !(Number.isInteger(v) && v >= 0))) {
      throw expected(k.type === 'uint32' ? 'a non-negative integer' : 'a finite number', `config.${k.hf}`, v);
    }
    metadata[`${arch}.${k.gguf}`] = k.type === 'uint32' ? u32(v) : f32(v);
  }
  return { arch: info, metadata };
}

/**
 * GGUF tensors for HF-layout weights: names mapped, Q/K rows permuted for llama, 1-D tensors kept in F32,
 * matrices in `fileType` (Q8_0 falls back to F16 for rows whose length is not a multiple of 32, since Q8_0
 * blocks never straddle rows). Data is produced lazily, one tensor at a time, while the file is written.
 */
export function ggufTensorsFromHf(arch: GgufArch, config: Record<string, unknown>, weights: Map<string, ExportTensor>, fileType: GgufFileType): Record<string, GgufTensorData> {
  const out: Record<string, GgufTensorData> = {};
  const heads = config.num_attention_heads as number;
  const kvHeads = (config.num_key_value_heads ?? heads) as number;
  for (const [name, w] of weights) {
    if (name === 'lm_head.weight' && config.tie_word_embeddings === true) continue;
    const g = hfNameToGguf(name);
    if (!g) throw expected('a Llama-family parameter name (model.layers.N....)', 'weight name', name);
    const isQ = name.includes('.q_proj.');
    const perm = arch.permuteQk && (isQ || name.includes('.k_proj.')) ? (isQ ? heads : kvHeads) : 0;
    const rows = w.shape[0];
    const fix = (b: Uint8Array): Uint8Array => (perm ? permuteQkRows(b, rows, perm, true) : b);
    let type: GgmlType = w.shape.length === 1 || fileType === 'F32' ? 'F32' : fileType;
    if (type === 'Q8_0' && w.shape[w.shape.length - 1] % Q8_0_BLOCK !== 0) type = 'F16';
    const data = (): Uint8Array => {
      if (type === 'F32') {
        const f = w.float32();
        return fix(new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
      }
      if (type === 'F16') {
        if (w.float16) return fix(w.float16());
        const f = w.float32();
        const h = Buffer.allocUnsafe(f.length * 2);
        for (let i = 0; i < f.length; i++) h.writeUInt16LE(floatToHalf(f[i]), 2 * i);
        return fix(h);
      }
      return fix(quantizeQ8_0(w.float32()));
    };
    out[g] = { type, shape: w.shape, data };
  }
  return out;
}
