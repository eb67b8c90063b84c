// The adapter registry: find an adapter by id, by the dataset's hub name, or from the columns of its first row.
import { ArgumentError } from '../../errors.js';
import type { DatasetAdapter } from './adapter.js';
import { generic } from './generic.js';
import { pkuSafeRlhf } from './pku-saferlhf.js';
import { redTeam } from './red-team.js';
import { ultraChat } from './ultrachat.js';
import { ultraFeedback } from './ultrafeedback.js';

export { type DatasetAdapter, promptFromText, withSystem } from './adapter.js';
export { pkuSafeRlhf, ultraFeedback, redTeam, ultraChat, generic };

/** Every built-in adapter, most specific first (detection takes the first whose columns are all present). */
export const ADAPTERS: readonly DatasetAdapter[] = [pkuSafeRlhf, redTeam, ultraFeedback, ultraChat, generic];

/** The adapter with this id (e.g. "pku-saferlhf"). */
export function adapterById(id: string): DatasetAdapter {
  const a = ADAPTERS.find((x) => x.id === id);
  if (!a) throw new ArgumentError(`Expected one of ${ADAPTERS.map((x) => `"${x.id}"`).join(', ')} for adapter but received "${id}"`);
  return a;
}

/** The adapter for a dataset name as the original names it (case-insensitive; the last path part also matches). */
export function adapterForName(name: string): DatasetAdapter | undefined {
  const lower = name.toLowerCase().replace(/\/+$/, '');
  for (const a of ADAPTERS) {
    for (const hub of a.hubNames) {
      const h = hub.toLowerCase();
      if (lower === h || lower.endsWith(`/${h}`) || lower.endsWith(`/${h.split('/')[1]}`) || lower === h.split('/')[1]) return a;
    }
  }
  return undefined;
}

/** The first adapter whose identifying columns are all present, or undefined. */
export function adapterForColumns(columns: readonly string[]): DatasetAdapter | undefined {
  const have = new Set(columns);
  return ADAPTERS.find((a) => a.columns.every((c) => have.has(c))) 
    ?? (have.has('messages') || (have.has('prompt') && have.has('completion')) ? generic : undefined);
}
