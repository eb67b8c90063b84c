// The recipe layer's public surface: recipes, their key table, the typed run settings they resolve to, and the run
// they describe (what `bfpo sft`, `bfpo train` and `bfpo logps` do).
export { loadRecipe, overrideRecipe, parseOverrides, checkValue, nearestKey, editDistance, RecipeError, type Recipe } from './recipe.js';
export {
  RECIPE_KEYS, KEY_INDEX, KEY_SECTIONS, keySection, renderKeyTable, describeType, type KeySpec, type KeyType, type KeyGroup, type KeySection,
} from './recipe-keys.js';
export { runIdentity, RESUME_IGNORED_KEYS } from './trainer-config.js';
export {
  resolveSettings, DEFAULT_LORA_TARGETS, type RunSettings, type RunTask, type ModelSettings, type TokenizeSettings,
  type LossSettings, type ReferenceSettings, type ReferenceKind, type LoraSettings,
} from './settings.js';
export type { DataSettings, MixSettings } from './data-settings.js';
export { prepareRecipe, prepareLogpsRecipe } from './prepare.js';
export { runTraining, runLogpsCache } from './run.js';
export {
  estimateMemory, parameterShapes, optimizerStates, formatMemoryEstimate, type MemoryEstimate, type MemoryEstimateInput,
  type MemoryTerm, type ParameterShape, type TrainableSpec,
} from './memory-estimate.js';
export { dryRun, checkResume, resolvedRecipe, runMemoryEstimate } from './dry-run.js';
export { trainFromRecipe, type TrainFromRecipeOptions } from './train-from-recipe.js';
