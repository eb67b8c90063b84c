// The recipe layer's reusable parts: recipes, their key table and the trainer settings they resolve to.
export { loadRecipe, parseOverrides, checkValue, nearestKey, editDistance, RecipeError, type Recipe } from './recipe.js';
export { RECIPE_KEYS, KEY_INDEX, renderKeyTable, describeType, type KeySpec, type KeyType, type KeyGroup } from './recipe-keys.js';
export { trainerConfig, checkRecipe, runIdentity, RESUME_IGNORED_KEYS } from './trainer-config.js';
