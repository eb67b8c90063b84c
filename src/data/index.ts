// The data layer's public surface: readers, adapters, mixer, tokenization, batching.
export type { Message, ExampleSource, PreferenceExample, SftExample, DataTask, ExampleOf, RawRow } from './types.js';
export { DataError, SkipReport, type SkippedRows } from './errors.js';
export { hashDataFile, hashDataFiles, type DataFileHash } from './file-hash.js';
export { readTokenizedCache, writeTokenizedCache, tokenizedCachePaths, type TokenizedKind, type TokenizedItem, type TokenizedSplits, type CacheRead } from './tokenized-cache.js';
export { readRows, countRows, fileFormat, type FileFormat } from './read-rows.js';
export { readJsonl } from './read-jsonl.js';
export { readJsonArray } from './read-json.js';
export { readParquet, parquetColumns } from './read-parquet.js';
export { splitFiles, listSplits, splitOfFile, hasSplit } from './dataset-files.js';
export {
  ADAPTERS, adapterById, adapterForName, adapterForColumns, pkuSafeRlhf, ultraFeedback, redTeam, ultraChat, generic,
  type DatasetAdapter,
} from './adapters/index.js';
export { loadSplit, resolveAdapter, type LoadSplitOptions } from './load.js';
export {
  mixDatasets, checkMixerFraction, describeCount, datasetPath, testIsTrainWarning, type MixOptions, type Mixture, type MixCount,
} from './mixer.js';
export { Prng } from './prng.js';
export { runSteps, type TextTokenizer, type BatchTextEncoder, type EncodeSteps, type TokenIds } from './tokenizer.js';
export { runStepsBatched, type BatchedStepsOptions } from './encode-batched.js';
export {
  tokenizePair, pairSteps, checkTokenizeOptions, type TokenizeMode, type TokenizeOptions, type TokenizedPair, type TokenizedSequence,
} from './tokenize.js';
export { tokenizeSft, sftSteps, type TokenizedSft, type SftTokenizeOptions } from './tokenize-sft.js';
export { packSft, packSftBatched, packedConversationIds, packedConversationSteps, type PackedSft, type PackedSftBlock } from './pack-sft.js';
export { tokenizePairs, type TokenizePairsOptions } from './tokenize-parallel.js';
export { BatchPlan, type BatchPlanOptions, type BatchPosition } from './batch-plan.js';
export { BatchLoader, pairLoader, sftLoader, type LoaderOptions, type Positioned } from './loader.js';
export {
  collatePairs, collateSft, pairLength, batchTensors, IGNORE_INDEX, type TokenBatch, type PairBatch, type CollateOptions,
} from './collate.js';
export { preparePreferenceData, type PreparePreferenceOptions, type PreparedPreferenceData } from './prepare.js';
export { preferenceDumpRow, sftDumpRow, dumpJsonLines, type PreferenceDumpRow, type SftDumpRow } from './dump.js';
