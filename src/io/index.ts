// The io layer's public surface: safetensors, Hugging Face folders, tokenizers and chat templates, GGUF.
export { FormatError } from './errors.js';
export {
  type SafetensorsDtype, type SafetensorsEntry, type SafetensorsHeader, type LoadOptions, type RawTensor,
  SafetensorsFile, readSafetensorsHeader, loadSafetensors, saveSafetensors, writeSafetensors,
} from './safetensors.js';
export {
  type ShardIndex, type ShardOptions, SAFETENSORS_INDEX, readShardIndex, loadShardedSafetensors, saveShardedSafetensors,
} from './safetensors-shards.js';
export { type HfFolder, PICKLE_ADVICE, findHfFolder, loadHfWeights, readJsonObject } from './hf-folder.js';
export { type Message, type TemplateTokens, ChatTemplate, ChatTemplateError, ZEPHYR_CHAT_TEMPLATE } from './chat-template.js';
export { type TokenizerConfig, type EncodeOptions, Tokenizer, loadTokenizer } from './tokenizer.js';
