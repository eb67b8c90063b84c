// Typed readers of a loaded recipe's values: the ONE place where a recipe value (unknown) becomes a typed one. Each
// reader first checks the key's declared type in recipe-keys.ts, so a reader used on a key of another type fails.
import type { KeySpec, KeyType } from './recipe-keys.js';
import { KEY_INDEX } from './recipe-keys.js';
import type { Recipe } from './recipe.js';

/** Reads the values of a recipe that loadRecipe has checked key by key. */
export class RecipeValues {
  constructor(readonly recipe: Recipe) {}

  /** The key's spec, after checking that its declared type is one of `types` (a mismatch is a programming error). */
  private spec(key: string, types: readonly KeyType[], nullable: boolean): KeySpec {
    const s = KEY_INDEX.get(key);
    if (!s || s.aliasOf) throw new Error(`Internal: ${key} is not a recipe key`);
    if (!types.includes(s.type)) throw new Error(`Internal: ${key} is declared ${s.type}, read as ${types.join(' or ')}`);
    if (!nullable && s.nullable) throw new Error(`Internal: ${key} may be null; read it with a *OrNull reader`);
    return s;
  }

  /** Whether the key was set explicitly (by the YAML or a flag) rather than left at its default. */
  isSet(key: string): boolean {
    return this.recipe.setBy[key] !== undefined;
  }

  string(key: string): string { this.spec(key, ['string'], false); return this.recipe.values[key] as string; }
  stringOrNull(key: string): string | null { this.spec(key, ['string'], true); return this.recipe.values[key] as string | null; }
  number(key: string): number { this.spec(key, ['number', 'integer'], false); return this.recipe.values[key] as number; }
  numberOrNull(key: string): number | null { this.spec(key, ['number', 'integer'], true); return this.recipe.values[key] as number | null; }
  boolean(key: string): boolean { this.spec(key, ['boolean'], false); return this.recipe.values[key] as boolean; }
  booleanOrAuto(key: string): boolean | 'auto' { this.spec(key, ['boolean-auto'], false); return this.recipe.values[key] as boolean | 'auto'; }
  strings(key: string): string[] { this.spec(key, ['string-list'], false); return this.recipe.values[key] as string[]; }
  stringsOrNull(key: string): string[] | null { this.spec(key, ['string-list'], true); return this.recipe.values[key] as string[] | null; }
  mixerOrNull(key: string): Record<string, number> | null { this.spec(key, ['mixer'], true); return this.recipe.values[key] as Record<string, number> | null; }

  /** An enum key, typed by `allowed` (which must hold every value of the key table, so the union and the table agree). */
  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    return this.enumValue(this.spec(key, ['enum'], false), allowed) as T;
  }

  /** A nullable enum key (null when unset). */
  oneOfOrNull<T extends string>(key: string, allowed: readonly T[]): T | null {
    return this.enumValue(this.spec(key, ['enum'], true), allowed);
  }

  /** An enum-list key. */
  listOf<T extends string>(key: string, allowed: readonly T[]): T[] {
    const s = this.spec(key, ['enum-list'], false);
    this.sameValues(s, allowed);
    const v = this.recipe.values[key] as string[];
    return v.filter((x): x is T => (allowed as readonly string[]).includes(x));
  }

  private enumValue<T extends string>(s: KeySpec, allowed: readonly T[]): T | null {
    this.sameValues(s, allowed);
    const v = this.recipe.values[s.key];
    return v === null ? null : (allowed as readonly unknown[]).includes(v) ? (v as T) : null;
  }

  private sameValues(s: KeySpec, allowed: readonly string[]): void {
    const missing = (s.values ?? []).filter((x) => x !== null && !allowed.includes(x));
    if (missing.length > 0) throw new Error(`Internal: ${s.key} allows ${missing.join(', ')}, which its reader does not type`);
  }
}
