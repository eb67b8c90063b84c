// Run as a child process by lazy-load.test.ts with BFPO_ADDON_PATH pointing at a missing file: the pure parts of the
// package work, and the first tensor op throws the install advice. Prints one JSON line.
import { LOSS_TYPES, loadRecipe, tensor } from 'bfpo';

const recipe = loadRecipe(process.argv[2]);
let error = '';
try {
  tensor([1, 2, 3]);
} catch (e) {
  error = `${(e as Error).name}: ${(e as Error).message}`;
}
let again = '';
try {
  tensor([1]);
} catch (e) {
  again = (e as Error).message;
}
console.log(JSON.stringify({ lossTypes: LOSS_TYPES, lossType: recipe.values.loss_type, error, again }));
