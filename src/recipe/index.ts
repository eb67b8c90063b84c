// The recipe layer's public surface: recipes, their key table, the trainer settings they resolve to, and the run a
// recipe describes (what `bfpo sft`, `bfpo train` and `bfpo logps` do).
export { loadRecipe, parseOverrides, checkValue, nearestKey, editDistance, RecipeError, type Recipe } from './recipe.js';
export { RECIPE_KEYS, KEY_INDEX, renderKeyTable, describeType, type KeySpec, type KeyType, type KeyGroup } from './recipe-keys.js';
export { trainerConfig, checkRecipe, runIdentity, RESUME_IGNORED_KEYS } from './trainer-config.js';
export { prepareRecipe, prepareLogpsRecipe } from './prepare.js';
export { runTraining, runLogpsCache } from './run.js';
