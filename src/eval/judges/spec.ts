// Judge specifications as written on the command line or in a recipe: `refusal`, `classifier:PATH`, `endpoint:URL#MODEL`.
import { expected } from '../../errors.js';
import type { Judge, YesNoScorer } from '../types.js';
import { classifierJudge } from './classifier.js';
import { endpointJudge, type EndpointJudgeOptions } from './endpoint.js';
import { refusalJudge } from './refusal.js';

export type JudgeSpec =
  | { type: 'refusal' }
  | { type: 'classifier'; path: string }
  | { type: 'endpoint'; url: string; model: string };

/** The built-in judges and how to name them, for help texts. */
export const JUDGE_HELP: readonly [string, string][] = [
  ['refusal', 'refusal-phrase matching (AdvBench style); no model needed'],
  ['classifier:PATH', 'a local causal LM folder prompted with the HarmBench classifier prompt; P("yes") vs P("no")'],
  ['endpoint:URL#MODEL', 'an OpenAI-compatible /v1/chat/completions server (vLLM, llama.cpp, ollama), same prompt'],
];

/**
 * Parses a judge spec.
 *
 * @example parseJudgeSpec('endpoint:http://127.0.0.1:8000#cls') // { type: 'endpoint', url: 'http://127.0.0.1:8000', model: 'cls' }
 */
export function parseJudgeSpec(spec: string): JudgeSpec {
  const s = spec.trim();
  if (s === 'refusal') return { type: 'refusal' };
  if (s.startsWith('classifier:') && s.length > 'classifier:'.length) return { type: 'classifier', path: s.slice('classifier:'.length) };
  if (s.startsWith('endpoint:')) {
    const rest = s.slice('endpoint:'.length);
    const hash = rest.lastIndexOf('#');
    if (hash > 0 && hash < rest.length - 1) return { type: 'endpoint', url: rest.slice(0, hash), model: rest.slice(hash + 1) };
  }
  throw expected('a judge spec (refusal, classifier:PATH or endpoint:URL#MODEL)', 'judge', spec);
}

export interface MakeJudgeOptions {
  /** Loads a yes/no scorer from a model folder (the classifier judge needs it). */
  loadYesNoScorer?: (path: string) => Promise<YesNoScorer>;
  /** Extra endpoint settings (timeouts, retries, concurrency). */
  endpoint?: Partial<EndpointJudgeOptions>;
}

/**
 * Builds the judge a spec names.
 *
 * @example const judge = await makeJudge(parseJudgeSpec('refusal'));
 */
export async function makeJudge(spec: JudgeSpec, o: MakeJudgeOptions = {}): Promise<Judge> {
  switch (spec.type) {
    case 'refusal':
      return refusalJudge();
    case 'classifier': {
      if (!o.loadYesNoScorer) throw expected('a loadYesNoScorer function', 'classifier judge', undefined);
      return classifierJudge(await o.loadYesNoScorer(spec.path), { name: `classifier:${spec.path}` });
    }
    case 'endpoint':
      return endpointJudge({ ...o.endpoint, url: spec.url, model: spec.model });
  }
}
