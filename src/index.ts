// bfpo: Bi-Factorial Preference Optimization and the DPO family on libtorch, from Node.js. The root exports what a
// user needs; every layer's full surface is a subpath: bfpo/tensor, bfpo/io, bfpo/models, bfpo/nn, bfpo/optim,
// bfpo/data, bfpo/losses, bfpo/train, bfpo/eval, bfpo/recipe, bfpo/demo. Importing it does not load libtorch.

// Errors
export { BfpoError, ArgumentError } from './errors.js';
export { TorchError } from './tensor/index.js';
export { FormatError, ChatTemplateError } from './io/index.js';
export { ConfigError } from './models/index.js';
export { StateDictError } from './nn/index.js';
export { DataError } from './data/index.js';
export { TrainingDivergedError, CheckpointMismatchError } from './train/index.js';
export { TaskDataError, JudgeError, JudgeIncompleteError } from './eval/index.js';
export { RecipeError } from './recipe/index.js';

// Tensors: creation, a few free functions, autograd modes, scopes and process-wide settings
export {
  Tensor, type Scalar, type TensorLike, type NestedArray, type DType, type Device, type CreateOptions,
  tensor, fromBuffer, empty, zeros, ones, full, arange, randn, rand, randint, zerosLike, onesLike,
  cat, stack, where, matmul, softmax, logSoftmax,
  noGrad, enableGrad, isGradEnabled, inferenceMode,
  tidy, keep, scope,
  setNumThreads, getNumThreads, manualSeed, cuda, memoryStats, buildInfo, detectBlas,
  fastPaths, resolveDevice, CudaUnavailableError, type DeviceSetting,
} from './tensor/index.js';

// Models and tokenizers: loading, saving, generation, GGUF conversion
export {
  loadPretrained, loadPretrainedAsync, savePretrained, savePretrainedAsync, type Pretrained, type PretrainedOptions, type SaveOptions, type LanguageModel,
  generate, type GenerateOptions, type GenerateResult, type SamplingOptions,
  ggufToHfFolder, hfFolderToGguf,
} from './models/index.js';
export {
  Tokenizer, loadTokenizer, saveTokenizer, type TokenizerConfig, ChatTemplate, type ChatMessage,
  type GgufToHfFolderOptions, type HfFolderToGgufOptions,
} from './io/index.js';

// Losses
export {
  sequenceLogps, preferenceLoss, preferenceMetrics, LOSSES, LOSS_TYPES, DEFAULT_LOSS, registerLoss, lossNames, findLoss,
  type LossSpec, type LossParam, type LossType, type BuiltinLossType, type PreferenceInputs, type PreferenceOptions,
  type PreferenceOutput,
} from './losses/index.js';

// Optimizers
export {
  Optimizer, Adam, AdamW, SGD, RMSprop, type AdamOptions, type SgdOptions, type RmspropOptions, type ParamGroup,
  type OptimizerStateDict,
} from './optim/index.js';

// Training
export {
  train, trainAsync, type TrainHooks, type StopReason, type LogRecord, type TrainingTask, type TrainerConfig, type ModelStore,
  type TrainResult, type CausalLM,
  SCHEDULES, SCHEDULE_TYPES, type ScheduleType, type ScheduleSpec, OPTIMIZERS, OPTIM_NAMES, type OptimName,
  type OptimizerSpec,
} from './train/index.js';

// Recipes
export {
  loadRecipe, parseOverrides, overrideRecipe, resolveSettings, type RunSettings, type Recipe, runTraining, runLogpsCache,
  trainFromRecipe, type TrainFromRecipeOptions,
} from './recipe/index.js';

// Evaluation
export {
  evaluate, loadEvalRecipe, type EvalConfig, type EvaluateHooks,
  runEval, type RunEvalOptions, type EvalModel, type ModelSource, loadEvalModel,
  parseTaskSpec, loadTask, type Task, parseJudgeSpec, makeJudge, type Judge, type ChatModel,
  summarize, type EvalResults, writeReport,
} from './eval/index.js';
