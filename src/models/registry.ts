// The registered model families: the built-in ones are listed here, one line each; add a family by adding its
// entry to BUILTIN_FAMILIES (or call registerFamily from your own code). Import registry functions from here.
import { registerFamily, type ModelFamily } from './families.js';
import { LLAMA, MISTRAL, QWEN2 } from './llama-family.js';

/** The families bfpo ships, in lookup order. */
export const BUILTIN_FAMILIES: readonly ModelFamily[] = [
  LLAMA,
  MISTRAL,
  QWEN2,
];

for (const family of BUILTIN_FAMILIES) registerFamily(family);

export {
  type ModelFamily, registerFamily, registeredArchitectures, ggufArchs, familyOf, familyOfConfig, parseFamilyConfig, createModel,
} from './families.js';
