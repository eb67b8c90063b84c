// Hugging Face hub cache lookups, offline only: a repo id such as `org/name` maps to the snapshot folder that
// `huggingface-cli download` (or transformers) left in HF_HUB_CACHE / HF_HOME/hub / ~/.cache/huggingface/hub.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { FormatError } from './errors.js';

/** The kind of hub repository; it prefixes the cache folder name (`models--org--name`). */
export type HubRepoKind = 'model' | 'dataset';

/**
 * The hub cache folder, as huggingface_hub picks it: HF_HUB_CACHE, else the older HUGGINGFACE_HUB_CACHE, else
 * HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 * @example hubCacheDir({ HF_HOME: '/data/hf' }) // '/data/hf/hub'
 */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return resolve(env.HF_HUB_CACHE);
  if (env.HUGGINGFACE_HUB_CACHE) return resolve(env.HUGGINGFACE_HUB_CACHE);
  if (env.HF_HOME) return join(resolve(env.HF_HOME), 'hub');
  const xdg = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(xdg, 'huggingface', 'hub');
}

/** Whether `id` has the shape of a hub repo id (`name` or `org/name`), rather than a relative path. */
export function isHubRepoId(id: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(id) && !id.includes('..') && !/\.(gguf|json|jsonl|parquet|yaml|yml)$/i.test(id);
}

/** Result of a cache lookup: the snapshot folder, or null with every place that was looked at. */
export interface HubCacheLookup {
  path: string | null;
  looked: string[];
}

/**
 * Finds the snapshot of `id` at `revision` (a branch or tag under refs/, or a commit hash) in the hub cache.
 * Never touches the network.
 * @example findInHubCache('TinyLlama/TinyLlama-1.1B-Chat-v1.0', 'model').path
 */
export function findInHubCache(id: string, kind: HubRepoKind, revision = 'main', env: NodeJS.ProcessEnv = process.env): HubCacheLookup {
  const repo = join(hubCacheDir(env), `${kind}s--${id.split('/').join('--')}`);
  const looked: string[] = [];
  const ref = join(repo, 'refs', revision);
  looked.push(ref);
  let commit: string | null = null;
  if (existsSync(ref) && statSync(ref).isFile()) commit = readFileSync(ref, 'utf8').trim();
  else if (/^[0-9a-f]{40}$/.test(revision)) commit = revision;
  if (commit) {
    const snap = join(repo, 'snapshots', commit);
    looked.push(snap);
    if (existsSync(snap) && statSync(snap).isDirectory()) return { path: snap, looked };
  } else {
    looked.push(join(repo, 'snapshots'));
  }
  return { path: null, looked };
}

/** The snapshots present for a repo folder, to list in an error. */
function snapshotsOf(id: string, kind: HubRepoKind, env: NodeJS.ProcessEnv): string[] {
  const dir = join(hubCacheDir(env), `${kind}s--${id.split('/').join('--')}`, 'snapshots');
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * A local path for a model or dataset: `path` itself when it exists, else its hub-cache snapshot when `path` is a
 * repo id. Throws a FormatError listing every place looked at when neither exists.
 * @example resolveHubPath('Qwen/Qwen2.5-0.5B-Instruct', 'model') // '~/.cache/huggingface/hub/models--Qwen--.../snapshots/<commit>'
 */
export function resolveHubPath(path: string, kind: HubRepoKind, opts: { revision?: string; key?: string; env?: NodeJS.ProcessEnv } = {}): string {
  if (existsSync(path)) return path;
  const env = opts.env ?? process.env;
  const what = opts.key ? `${opts.key} (${path})` : path;
  if (!isHubRepoId(path)) throw new FormatError(what, `was not found: looked for ${resolve(path)}`);
  const revision = opts.revision ?? 'main';
  const found = findInHubCache(path, kind, revision, env);
  if (found.path) return found.path;
  const snaps = snapshotsOf(path, kind, env);
  const present = snaps.length > 0 ? `; the cache holds snapshots ${snaps.join(', ')} but none for revision "${revision}"` : '';
  const fetch = kind === 'model' ? `huggingface-cli download ${path}` : `huggingface-cli download --repo-type dataset ${path}`;
  throw new FormatError(what, `was not found locally; looked for ${resolve(path)} and in the Hugging Face cache at ${found.looked.join(', ')}${present}. ` +
    `bfpo never downloads: fetch it once with \`${fetch}\` (set HF_HUB_CACHE or HF_HOME if your cache is elsewhere), or give a local folder`);
}
