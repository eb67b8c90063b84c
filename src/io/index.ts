// The io layer's public surface: safetensors, Hugging Face folders, tokenizers and chat templates, GGUF.
export { FormatError } from './errors.js';
export {
  type SafetensorsDtype, type SafetensorsEntry, type SafetensorsHeader, type LoadOptions as TensorLoadOptions, type TensorCheck, type RawTensor,
  SafetensorsFile, readSafetensorsHeader, loadSafetensors, loadSafetensorsAsync, saveSafetensors, saveSafetensorsAsync, writeSafetensors,
} from './safetensors.js';
export {
  type ShardIndex, type ShardOptions, SAFETENSORS_INDEX, readShardIndex, loadShardedSafetensors, loadShardedSafetensorsAsync, saveShardedSafetensors, saveShardedSafetensorsAsync,
} from './safetensors-shards.js';
export { type HubRepoKind, type HubCacheLookup, hubCacheDir, isHubRepoId, findInHubCache, resolveHubPath } from './hf-cache.js';
export { type HfFolder, PICKLE_ADVICE, findHfFolder, loadHfWeights, loadHfWeightsAsync, readJsonObject } from './hf-folder.js';
export { type ChatMessage, type TemplateTokens, ChatTemplate, ChatTemplateError, ZEPHYR_CHAT_TEMPLATE } from './chat-template.js';
export {
  type TokenizerConfig, type EncodeOptions as TokenizerEncodeOptions, type TokenizerOptions, type ApplyChatTemplateOptions, Tokenizer, loadTokenizer, saveTokenizer, generationConfig, missingTemplateWarning,
  type NativeEncodingSpec,
} from './tokenizer.js';
export { type ContentSpecialTokens, CONTENT_SPECIAL_TOKENS } from './content-guard.js';
export { type BatchEncoder, type BatchEncoderOptions, type TokenizerBackend, TOKENIZER_BACKENDS, BACKEND_ENV, batchEncoder, rustBinding } from './rust-tokenizer.js';
export { type NativeBpe, type NativeBpeTables, nativeBpe, nativeBpeTables } from './native-tokenizer.js';
export {
  type GgufFile, type GgufValue, type GgufScalarType, type GgufTensorInfo, type GgufTensorData, type GgmlType,
  readGguf, readGgufTensor, readGgufTensorBytes, writeGguf,
} from './gguf.js';
export {
  type GgufArch, type GgufFileType, type ExportTensor, type FloatBytes, ggufNameToHf, hfNameToGguf, permuteQkRows, hfConfigFromGguf,
  ggufToHfTensors, ggufTensorToHf, ggufMetadataFromConfig, ggufTensorsFromHf,
} from './gguf-llama.js';
export { TOKEN_TYPE, tokenizerFromGguf, ggufTokenizerMetadata, mergesFromScores } from './gguf-tokenizer.js';
// ggufToHf, writeGgufFromHf, ggufToHfFolder and hfFolderToGguf take the families' GGUF naming; models/ exports
// them with the registered families filled in.
export type { GgufToHfFolderOptions, HfFolderToGgufOptions } from './convert.js';
export { ollamaModelfile, writeModelfileBeside } from './ollama-modelfile.js';
