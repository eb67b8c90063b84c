// Writes recipes/recipe.schema.json from the key table (test/recipe/recipe-schema.test.ts checks it is current).
// Run: npm run docs:recipe-schema
import { writeFileSync } from 'node:fs';
import { recipeSchemaText } from '../src/recipe/recipe-schema.js';

writeFileSync(new URL('../recipes/recipe.schema.json', import.meta.url), recipeSchemaText());
