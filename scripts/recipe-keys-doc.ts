// Rewrites the recipe key table of docs/training.md from src/recipe/recipe-keys.ts (test/recipe/recipe.test.ts checks it).
// Run: npm run docs:recipe-keys
import { readFileSync, writeFileSync } from 'node:fs';
import { renderKeyTable } from '../src/recipe/recipe-keys.js';

const file = new URL('../docs/training.md', import.meta.url);
const doc = readFileSync(file, 'utf8');
const next = doc.replace(/(<!-- recipe-keys:start -->\n)[\s\S]*?(<!-- recipe-keys:end -->)/, `$1${renderKeyTable()}$2`);
if (next === doc && !doc.includes('<!-- recipe-keys:start -->')) throw new Error('docs/training.md lacks the recipe-keys markers');
writeFileSync(file, next);
