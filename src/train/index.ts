// Training: the one loop for SFT and preference training, steps, reference strategies, schedules, checkpoints, logs.
export {
  train, trainAsync, selectTrainable, TrainingDivergedError, type TrainingTask, type TrainerConfig, type ModelStore, type TrainResult,
  type TrainHooks, type StopReason, type LogRecord,
} from './trainer.js';
export {
  runStep, taskSteps, preferenceHead, sftHead, preferenceStep, sftStep, preferenceStepCheckpointed, sftStepCheckpointed,
  type StepOutput, type BackwardStepOutput, type PreferenceStepOptions, type StepHead, type StepBatch, type StepRunOptions, type TaskSteps,
} from './steps.js';
export {
  frozenReference, adapterReference, precomputedReference, computeReferenceLogps, cachedReferenceLogps, modelChecksum, referenceCacheKey,
  readCachedLogps, writeCachedLogps, type ReferenceStrategy, type DataRole, type LogpsTable,
} from './reference.js';
export { lrMultiplier, warmupStepsOf, SCHEDULES, SCHEDULE_TYPES, type ScheduleType, type ScheduleOptions, type ScheduleSpec } from './schedule.js';
export { makeOptimizer, OPTIMIZERS, OPTIM_NAMES, type OptimName, type OptimSettings, type OptimizerSpec } from './optimizers.js';
export { MasterWeights } from './precision.js';
export {
  listCheckpoints, lastCheckpoint, lastIntactCheckpoint, saveCheckpoint, assertSameRun, configDifferences, checksumFiles, checkpointProblem,
  CheckpointMismatchError, CheckpointWriteError, CheckpointDamagedError, SHARD_MANIFEST, type FileChecksum,
} from './checkpoint.js';
export { restoreOptimizer, shardBase, type ShardManifest, type ShardRecord } from './optimizer-shards.js';
export { lockOutputDir, RunLockedError, LOCK_FILE, type RunLock } from './lock.js';
export { watchStopSignals, signalExitCode, type StopWatch } from './signals.js';
export { TrainLogger } from './logger.js';
export { EventWriter, crc32c, maskedCrc32c } from './tensorboard.js';
export { runEvaluation, MetricAverager } from './evaluate.js';
export { disposeBatch, batchTokens, type CausalLM, type PreferenceBatch, type SftBatch, type BatchSource, type SourcePosition } from './types.js';
