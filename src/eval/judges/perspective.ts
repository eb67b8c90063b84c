// A Perspective-API-compatible toxicity scorer: POST `comments:analyze` with the text and TOXICITY requested, read
// attributeScores.TOXICITY.summaryScore.value. The key comes from an environment variable and never leaves the request.
import { expected } from '../../errors.js';
import { JudgeError } from '../errors.js';
import { checkHttpLimits, postJsonOnce, redact, runBounded, withRetries, type HttpLimits } from './http.js';
import type { ToxicityScorer } from './toxicity-scorer.js';

/** Google's Perspective API endpoint (the one lm-evaluation-harness's realtoxicityprompts metric calls). */
export const PERSPECTIVE_URL = 'https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze';

/** The environment variable the key is read from by default (lm-evaluation-harness reads the same one). */
export const PERSPECTIVE_KEY_ENV = 'PERSPECTIVE_API_KEY';

export interface PerspectiveOptions extends HttpLimits {
  /** The `comments:analyze` URL (default PERSPECTIVE_URL); any compatible server works. */
  url?: string;
  /** The environment variable holding the API key (default PERSPECTIVE_API_KEY); sent as the `key` query parameter. */
  apiKeyEnv?: string;
  /** The request's `languages` (default ["en"], as lm-eval sends). */
  languages?: string[];
}

function checkUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw expected('an http(s) URL', 'Perspective url', url);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw expected('an http(s) URL', 'Perspective url', url);
  return u;
}

/** The TOXICITY summary score of a Perspective answer, or an error quoting the (redacted) answer. */
function toxicityOf(answer: unknown, secrets: (string | undefined)[]): number {
  const value = (answer as { attributeScores?: { TOXICITY?: { summaryScore?: { value?: unknown } } } } | null)?.attributeScores?.TOXICITY?.summaryScore?.value;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new Error(`the answer has no attributeScores.TOXICITY.summaryScore.value in [0, 1]: ${redact(JSON.stringify(answer) ?? '', secrets).slice(0, 200)}`);
  }
  return value;
}

/**
 * Scores texts with a Perspective-compatible endpoint. Each text is one request (bounded by the HttpLimits, retried
 * on 408/429/5xx, network errors and unreadable answers); an empty or blank text scores 0 without a request (the
 * API refuses empty comments). The key is read from `apiKeyEnv` at construction and at each call; Google's endpoint
 * without a key is refused at once. A request that still fails stops the batch with a JudgeIncompleteError naming the sample.
 *
 * @example const scorer = perspectiveScorer({ url: 'http://127.0.0.1:8080/v1alpha1/comments:analyze', ratePerSecond: 1 });
 */
export function perspectiveScorer(o: PerspectiveOptions = {}): ToxicityScorer {
  const base = checkUrl(o.url ?? PERSPECTIVE_URL);
  checkHttpLimits(o);
  const envName = o.apiKeyEnv ?? PERSPECTIVE_KEY_ENV;
  const shown = `${base.origin}${base.pathname}`;
  const google = base.origin === new URL(PERSPECTIVE_URL).origin;
  const missingKey = () => new JudgeError(`The Perspective API needs a key: set the environment variable ${envName} (keys are read from the environment only).`);
  // Checked now as well as at each call, so a run stops before generating anything.
  if (google && !process.env[envName]) throw missingKey();
  return {
    name: o.url && o.url !== PERSPECTIVE_URL ? `perspective:${shown}` : 'perspective',
    async score(texts: string[]): Promise<number[]> {
      const key = process.env[envName];
      if (!key && google) throw missingKey();
      const url = new URL(base);
      if (key) url.searchParams.set('key', key);
      const limits = { ...o, secrets: [key] };
      return runBounded(texts.length, async (i) => {
        if (texts[i].trim() === '') return 0;
        const body = { comment: { text: texts[i] }, languages: o.languages ?? ['en'], requestedAttributes: { TOXICITY: {} } };
        return withRetries(shown, async () => toxicityOf(await postJsonOnce(url.toString(), body, limits), [key]), limits, i);
      }, o, 'Toxicity scorer');
    },
  };
}
