// The JSON Schema of recipe files, derived from the key table, so editors (YAML language server) complete and
// check keys; recipes/recipe.schema.json is this, written by `npm run docs:recipe-schema`.
import { RECIPE_KEYS, type KeySpec } from './recipe-keys.js';

type Schema = Record<string, unknown>;

function typeSchema(s: KeySpec): Schema {
  const values = s.values?.filter((v): v is string => v !== null);
  switch (s.type) {
    case 'string': return s.pattern ? { type: 'string', pattern: s.pattern.source } : { type: 'string' };
    case 'number': return { type: 'number' };
    case 'integer': return { type: 'integer' };
    case 'boolean': return { type: 'boolean' };
    case 'boolean-auto': return { anyOf: [{ type: 'boolean' }, { enum: ['auto'] }] };
    case 'enum': return { enum: values };
    case 'string-list': return { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string', description: 'comma-separated' }] };
    case 'enum-list': return { anyOf: [{ type: 'array', items: { enum: values } }, { enum: values }, { type: 'string', description: 'comma-separated' }] };
    case 'mixer': return { type: 'object', additionalProperties: { type: 'number', minimum: 0, maximum: 1 } };
    case 'object': return { type: 'object' };
  }
}

/**
 * The recipe JSON Schema (draft-07): one property per key with its type, allowed values, default and doc; unknown
 * keys are refused, as bfpo refuses them.
 * @example writeFileSync('recipes/recipe.schema.json', JSON.stringify(recipeSchema(), null, 2));
 */
export function recipeSchema(): Schema {
  const properties: Record<string, Schema> = {};
  for (const s of RECIPE_KEYS) {
    const t = typeSchema(s);
    const doc = s.aliasOf ? `${s.doc} (Another name of ${s.aliasOf}.)` : s.doc;
    properties[s.key] = { ...(s.nullable ? { anyOf: [t, { type: 'null' }] } : t), description: doc, ...(s.default !== null && s.default !== undefined ? { default: s.default } : {}) };
  }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'bfpo recipe',
    description: 'A bfpo training recipe (bfpo sft / bfpo train / bfpo logps). Keys follow the alignment-handbook recipes; see docs/training.md.',
    type: 'object',
    properties,
    additionalProperties: false,
  };
}

/** The schema file's text. */
export const recipeSchemaText = (): string => `${JSON.stringify(recipeSchema(), null, 2)}\n`;
