// Bounded JSON-over-HTTP for judge and scorer endpoints: a total deadline per request (slow drips included), a byte
// cap on answers, retries with doubling backoff, a concurrency limit, an optional rate limit, and secret redaction.
import { expected } from '../../errors.js';
import { JudgeIncompleteError } from '../errors.js';

/** How requests to an endpoint are bounded and repeated. */
export interface HttpLimits {
  /** Milliseconds for a whole request, answer included, before it is abandoned (default 60 000). */
  timeoutMs?: number;
  /** Largest answer read, in bytes (default 1 MiB); a larger one is cut off and reported as an error. */
  maxResponseBytes?: number;
  /** Tries after the first failure (default 4). */
  retries?: number;
  /** First backoff delay in ms, doubled after each failure (default 500; at most 30 s). */
  backoffMs?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Requests started per second at most, over all workers (default: no limit). */
  ratePerSecond?: number;
  /** Called before each retry, e.g. to log it (the error text is already redacted). */
  onRetry?: (info: { attempt: number; delayMs: number; error: string }) => void;
}

/** An HTTP answer that retrying cannot fix (a 4xx other than 408/429). */
export class PermanentHttpError extends Error {}

/** A failure of one item after all its tries: which item and why (redacted). */
export interface ItemFailure {
  index: number;
  error: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `text` with every occurrence of each secret (and its URL-encoded forms) replaced by `[api key]`, so no message,
 * log or report can carry it. Secrets shorter than 4 characters are left alone (they would blank ordinary text).
 *
 * @example redact('401 for key abc123', ['abc123']) // '401 for key [api key]'
 */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    // The key as written, as a URL path or query would carry it (percent- and form-encoded).
    const forms = new Set([s, encodeURIComponent(s), new URLSearchParams({ k: s }).toString().slice(2)]);
    for (const form of forms) out = out.split(form).join('[api key]');
  }
  return out;
}

/**
 * The body of `res` as text, reading at most `max` bytes: a larger answer is cancelled and reported. (The request's
 * total deadline, given to fetch as its signal, also stops a body that drips in slowly.)
 */
export async function readBounded(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`the answer is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Seconds from a Retry-After header (number form), at most 60; null when absent or a date. */
function retryAfterMs(res: Response): number | null {
  const v = res.headers.get('retry-after');
  if (v === null || !/^\d+(\.\d+)?$/.test(v.trim())) return null;
  return Math.min(Number(v) * 1000, 60_000);
}

/** An error after which a retry waits at least `waitMs` (a Retry-After header). */
class RetryableHttpError extends Error {
  constructor(message: string, readonly waitMs: number | null) {
    super(message);
  }
}

/**
 * POSTs `body` as JSON once and returns the parsed JSON answer, bounded by `timeoutMs` (the whole request) and
 * `maxResponseBytes`. 4xx answers other than 408/429 are permanent; 408, 429 and 5xx may be retried. Every error
 * message is redacted of `secrets`.
 */
export async function postJsonOnce(url: string, body: unknown, o: HttpLimits & { headers?: Record<string, string>; secrets?: (string | undefined)[] }): Promise<unknown> {
  const secrets = o.secrets ?? [];
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...o.headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(o.timeoutMs ?? 60_000),
  });
  const text = redact(await readBounded(res, o.maxResponseBytes ?? 1 << 20), secrets);
  if (!res.ok) {
    const msg = `HTTP ${res.status} ${text.slice(0, 200)}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new PermanentHttpError(msg);
    throw new RetryableHttpError(msg, retryAfterMs(res));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`the answer is not JSON: ${text.slice(0, 200)}`);
  }
}

/** A short, redacted description of a request error (timeouts, refused connections, HTTP and format errors). */
export function describeHttpError(err: unknown, secrets: readonly (string | undefined)[]): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  return redact(e.cause?.code ?? e.cause?.message ?? e.message ?? String(err), secrets);
}

/**
 * Calls `once` until it succeeds, at most `retries` more times, waiting `backoffMs` doubled after each failure (or
 * the server's Retry-After when longer). The final error names `what`, the tries and the redacted cause.
 */
export async function withRetries<T>(what: string, once: () => Promise<T>, o: HttpLimits & { secrets?: (string | undefined)[] }, sample?: number): Promise<T> {
  const retries = o.retries ?? 4;
  let delay = o.backoffMs ?? 500;
  for (let attempt = 0; ; attempt++) {
    try {
      return await once();
    } catch (err) {
      const error = describeHttpError(err, o.secrets ?? []);
      if (err instanceof PermanentHttpError || attempt >= retries) {
        const on = sample === undefined ? '' : ` on sample ${sample}`;
        throw new Error(`${what} failed after ${attempt + 1} ${attempt === 0 ? 'try' : 'tries'}${on}: ${error}`);
      }
      const wait = Math.max(delay, err instanceof RetryableHttpError && err.waitMs !== null ? err.waitMs : 0);
      o.onRetry?.({ attempt: attempt + 1, delayMs: wait, error });
      await sleep(wait);
      delay = Math.min(delay * 2, 30_000);
    }
  }
}

/** Spaces request starts at least 1 / rate seconds apart, over every caller that shares it. */
class StartGate {
  private next = 0;
  constructor(private readonly intervalMs: number) {}
  async wait(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at > now) await sleep(at - now);
  }
}

/** Checks the concurrency and rate options (a clear error naming the option). */
export function checkHttpLimits(o: HttpLimits): void {
  const c = o.concurrency ?? 4;
  if (!(Number.isInteger(c) && c > 0)) throw expected('a positive integer', 'concurrency', c);
  if (o.ratePerSecond !== undefined && !(Number.isFinite(o.ratePerSecond) && o.ratePerSecond > 0)) throw expected('a positive number', 'rate (requests per second)', o.ratePerSecond);
  if (o.timeoutMs !== undefined && !(Number.isFinite(o.timeoutMs) && o.timeoutMs > 0)) throw expected('a positive number of milliseconds', 'timeout', o.timeoutMs);
  if (o.retries !== undefined && !(Number.isInteger(o.retries) && o.retries >= 0)) throw expected('a non-negative integer', 'retries', o.retries);
}

/**
 * Runs `task(i)` for every item with at most `concurrency` in flight and at most `ratePerSecond` starts per second.
 * After the first failure no new item starts; the items that finished keep their results. Returns every result, or
 * throws a JudgeIncompleteError whose `partial` holds the finished results and whose `failures` say which items
 * failed and why; its message is `label` followed by the first failure and the count judged.
 */
export async function runBounded<T>(count: number, task: (i: number) => Promise<T>, o: HttpLimits, label: string): Promise<T[]> {
  const results: (T | undefined)[] = new Array(count).fill(undefined);
  const failures: ItemFailure[] = [];
  const gate = o.ratePerSecond ? new StartGate(1000 / o.ratePerSecond) : null;
  let next = 0;
  const worker = async () => {
    while (failures.length === 0 && next < count) {
      const i = next++;
      try {
        await gate?.wait();
        results[i] = await task(i);
      } catch (err) {
        failures.push({ index: i, error: (err as Error).message ?? String(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, count) }, worker));
  if (failures.length > 0) {
    failures.sort((a, b) => a.index - b.index);
    const done = results.filter((r) => r !== undefined).length;
    const first = failures[0];
    throw new JudgeIncompleteError(`${label} ${first.error} (${done} of ${count} judged)`, results, new Error(first.error), failures);
  }
  return results as T[];
}
