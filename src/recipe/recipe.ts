// Recipes: one YAML with model, data and training keys, an optional second YAML (`other_data_config`) overriding
// data keys, and `--key=value` overrides; every key is checked against the table in recipe-keys.ts.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument, parse as parseYaml, isMap, isScalar, type Document } from 'yaml';
import { BfpoError, expected } from '../errors.js';
import { checkMixerFraction } from '../data/mixer.js';
import { KEY_INDEX, RECIPE_KEYS, describeType, type KeySpec } from './recipe-keys.js';

/** Raised for any problem in a recipe or its overrides; the message names the key and the allowed values. */
export class RecipeError extends BfpoError {}

/** A resolved recipe: every key (defaults filled in) and where each explicit value came from. */
export interface Recipe {
  values: Record<string, unknown>;
  setBy: Record<string, string>;
  file: string | null;
}

/** Levenshtein distance (for "did you mean"). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The known key nearest to `key`, when it is near enough to be a typo. */
export function nearestKey(key: string): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const s of RECIPE_KEYS) {
    const d = editDistance(key, s.key);
    if (d < bestD) [best, bestD] = [s.key, d];
  }
  return bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

function unknownKey(key: string, where: string): RecipeError {
  const near = nearestKey(key);
  return new RecipeError(`Unknown recipe key "${key}" (in ${where})${near ? `; did you mean "${near}"?` : '; `bfpo train --help` lists every key'}`);
}

const NULLS = new Set(['null', 'None', 'none', '~', '']);

/** Parses a command-line string into the value its key's type expects (YAML flow for lists and mappings). */
function fromText(s: KeySpec, text: string): unknown {
  if (s.nullable && NULLS.has(text)) return null;
  switch (s.type) {
    case 'boolean':
    case 'boolean-auto':
      return /^(true|True|TRUE)$/.test(text) ? true : /^(false|False|FALSE)$/.test(text) ? false : text;
    case 'number':
    case 'integer':
      return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
    case 'string-list':
    case 'enum-list':
      return text.trim().startsWith('[') ? parseYaml(text) : text.split(',').map((x) => x.trim()).filter((x) => x !== '');
    case 'mixer':
    case 'object':
      return parseYaml(text);
    default:
      return text;
  }
}

/** Checks (and normalises) a value for key `s`; `where` says which file or flag set it. */
export function checkValue(s: KeySpec, value: unknown, where: string): unknown {
  const name = `${s.key} (in ${where})`;
  if (value === null || value === undefined || (typeof value === 'string' && s.nullable && NULLS.has(value))) {
    if (s.nullable) return null;
    throw expected(describeType(s), name, value);
  }
  switch (s.type) {
    case 'boolean':
    case 'boolean-auto':
      if (typeof value === 'boolean') return value;
      if (value === 'True' || value === 'true') return true;
      if (value === 'False' || value === 'false') return false;
      if (s.type === 'boolean-auto' && value === 'auto') return value;
      break;
    case 'number':
    case 'integer': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n === 'number' && Number.isFinite(n) && (s.type === 'number' || Number.isInteger(n))) return n;
      break;
    }
    case 'string':
      if ((typeof value === 'string' || typeof value === 'number') && (!s.pattern || new RegExp(s.pattern.source).test(String(value)))) return String(value);
      break;
    case 'enum':
      if (s.values?.includes(value as string)) return value;
      break;
    case 'string-list':
    case 'enum-list': {
      const list = typeof value === 'string' ? [value] : value;
      if (Array.isArray(list) && list.every((v) => typeof v === 'string' && (s.type === 'string-list' || s.values?.includes(v)))) return list;
      break;
    }
    case 'mixer':
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        for (const [ds, f] of Object.entries(value)) {
          checkMixerFraction(f, `${s.key}.${ds} (in ${where})`);
        }
        if (Object.keys(value).length > 0) return value;
      }
      break;
    case 'object':
      if (value && typeof value === 'object' && !Array.isArray(value)) return value;
      break;
  }
  throw expected(describeType(s), name, value);
}

/** Reads a YAML mapping, refusing keys given twice with their line. */
function readYaml(file: string, what: string): Record<string, unknown> {
  if (!existsSync(file)) throw new RecipeError(`The ${what} ${file} does not exist (looked for ${resolve(file)})`);
  const text = readFileSync(file, 'utf8');
  const doc: Document = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) throw new RecipeError(`The ${what} ${file} is not valid YAML: ${doc.errors[0].message}`);
  if (doc.contents === null) return {};
  if (!isMap(doc.contents)) throw new RecipeError(`The ${what} ${file} must be a mapping of keys to values`);
  const seen = new Map<string, number>();
  const lines = (off: number) => text.slice(0, off).split('\n').length;
  for (const item of doc.contents.items) {
    const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
    const line = isScalar(item.key) && item.key.range ? lines(item.key.range[0]) : 0;
    if (seen.has(key)) throw new RecipeError(`The key "${key}" is given twice in ${file} (lines ${seen.get(key)} and ${line})`);
    seen.set(key, line);
  }
  return doc.toJS() as Record<string, unknown>;
}

/** A copy of `recipe` with `--key=value` overrides applied on top (checked as on the command line). */
export function overrideRecipe(recipe: Recipe, args: string[]): Recipe {
  const r: Recipe = structuredClone(recipe);
  apply(r, parseOverrides(args), 'the overrides', true);
  return r;
}

/** Splits `--key=value` / `--key value` arguments (`--kebab-case` read as `--snake_case`), refusing a key given twice. */
export function parseOverrides(args: string[]): [string, string][] {
  const out: [string, string][] = [];
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) throw new RecipeError(`Unexpected argument "${a}": overrides are written --key=value`);
    const eq = a.indexOf('=');
    // --kebab-case is the same key as --snake_case (recipe keys are snake_case).
    const key = a.slice(2, eq < 0 ? undefined : eq).replace(/-/g, '_');
    let value: string;
    if (eq >= 0) value = a.slice(eq + 1);
    else if (i + 1 < args.length && !args[i + 1].startsWith('--')) value = args[++i];
    else value = 'true';
    const canonical = KEY_INDEX.get(key)?.aliasOf ?? key;
    if (seen.has(canonical)) throw new RecipeError(`The key "${key}" is given twice on the command line`);
    seen.add(canonical);
    out.push([key, value]);
  }
  return out;
}

/** Applies `entries` from one source, refusing unknown keys and an alias given together with its key. */
function apply(r: Recipe, entries: [string, unknown][], where: string, fromCli: boolean, only?: (s: KeySpec) => boolean): void {
  const inThisSource = new Set<string>();
  for (const [key, raw] of entries) {
    const spec = KEY_INDEX.get(key);
    if (!spec) throw unknownKey(key, where);
    if (only && !only(spec)) throw new RecipeError(`The key "${key}" is not a data key, so ${where} cannot set it`);
    const target = spec.aliasOf ?? key;
    if (inThisSource.has(target)) throw new RecipeError(`The key "${target}" is given twice in ${where} (also as ${key})`);
    inThisSource.add(target);
    const value = checkValue(spec, fromCli && typeof raw === 'string' ? fromText(spec, raw) : raw, where);
    r.values[target] = value;
    r.setBy[target] = where;
  }
}

/**
 * Resolves a recipe: defaults, then the YAML, then `other_data_config`'s data keys, then command-line overrides
 * (with `other_data_config_wins: true`, the command line before `other_data_config`, as the original).
 * @example const r = loadRecipe('recipes/bfpo.yaml', ['--learning_rate=1e-6']); r.values.learning_rate // 1e-6
 */
export function loadRecipe(file: string | null, args: string[] = []): Recipe {
  const r: Recipe = { values: {}, setBy: {}, file };
  for (const s of RECIPE_KEYS) if (!s.aliasOf) r.values[s.key] = structuredClone(s.default);
  if (file) apply(r, Object.entries(readYaml(file, 'recipe')), file, false);
  const overrides = parseOverrides(args);
  const otherCli = overrides.find(([k]) => k === 'other_data_config');
  const other = otherCli ? checkValue(KEY_INDEX.get('other_data_config')!, fromText(KEY_INDEX.get('other_data_config')!, otherCli[1]), 'the command line') : r.values.other_data_config;
  // other_data_config_wins (from the recipe or the command line) puts other_data_config after the command line, as
  // the original's parser merged it; by default the command line has the last word.
  const winsCli = overrides.find(([k]) => k === 'other_data_config_wins');
  const dataWins = winsCli ? checkValue(KEY_INDEX.get('other_data_config_wins')!, fromText(KEY_INDEX.get('other_data_config_wins')!, winsCli[1]), 'the command line') === true : r.values.other_data_config_wins === true;
  const applyOther = (): void => {
    if (typeof other !== 'string') return;
    const candidates = [resolve(other), ...(file && !isAbsolute(other) ? [resolve(dirname(file), other)] : [])];
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new RecipeError(`other_data_config ${other} does not exist (looked for ${[...new Set(candidates)].join(' and ')})`);
    apply(r, Object.entries(readYaml(found, 'other_data_config')), found, false, (s) => s.group === 'data' || s.key === 'preprocessing_num_workers');
  };
  if (!dataWins) applyOther();
  apply(r, overrides, 'the command line', true);
  if (dataWins) applyOther();
  return r;
}
