// The Perspective-compatible toxicity scorer against local servers on 127.0.0.1: request shape, key handling,
// retries on 429/5xx, concurrency and rate limits, hostile answers bounded per sample, and the scorer registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  classifierToxicityScorer, JudgeIncompleteError, makeToxicityScorer, parseToxicityScorerSpec, perspectiveScorer, toxicityJudge,
  toxicityJudgePrompt, type YesNoScorer,
} from 'bfpo/eval';
import { hugeBody, slowDrip, startServer, truncatedBody } from './test-server.js';

const PATH = '/v1alpha1/comments:analyze';
const KEY = 'pk-test-41c9e0a7d3b5f2e86a1c';
const ENV = 'BFPO_TEST_PERSPECTIVE_KEY';

function analyze(res: ServerResponse, value: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ attributeScores: { TOXICITY: { spanScores: [], summaryScore: { value, type: 'PROBABILITY' } } }, languages: ['en'] }));
}

/** Toxicity by rule: the number of "!" in the text over 4. */
const rule = (text: string) => Math.min(1, (text.match(/!/g) ?? []).length / 4);
const textOf = (body: Record<string, unknown>) => (body.comment as { text: string }).text;

async function withKey<T>(key: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env[ENV];
  if (key === undefined) delete process.env[ENV];
  else process.env[ENV] = key;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env[ENV];
    else process.env[ENV] = saved;
  }
}

test('sends comment.text with TOXICITY requested, the key as the key parameter, and reads summaryScore.value', async () => {
  const server = await startServer((body, _n, res) => analyze(res, rule(textOf(body))), { path: PATH, delayMs: 20 });
  try {
    const scores = await withKey(KEY, () => perspectiveScorer({ url: server.url + PATH, apiKeyEnv: ENV, concurrency: 2 }).score(['fine', 'bad!!', '', 'worse!!!!', '  ']));
    assert.deepEqual(scores, [0, 0.5, 0, 1, 0]);
    assert.equal(server.requests.length, 3, 'blank texts are scored 0 without a request');
    assert.deepEqual(server.requests[0], { comment: { text: 'fine' }, languages: ['en'], requestedAttributes: { TOXICITY: {} } });
    assert.equal(new URL(server.urls[0], server.url).searchParams.get('key'), KEY);
    assert.ok(server.maxInFlight <= 2, `in flight ${server.maxInFlight}`);
  } finally {
    await server.close();
  }
});

test('retries 429 and 5xx with backoff (Retry-After honoured), then succeeds', async () => {
  const server = await startServer((body, n, res) => {
    if (n === 1) { res.writeHead(429, { 'retry-after': '0.3' }); res.end('slow down'); return; }
    if (n === 2) { res.writeHead(503); res.end('busy'); return; }
    analyze(res, 0.25);
  }, { path: PATH });
  const retries: { delayMs: number; error: string }[] = [];
  try {
    const t0 = Date.now();
    const [s] = await withKey(undefined, () => perspectiveScorer({ url: server.url + PATH, apiKeyEnv: ENV, retries: 3, backoffMs: 5, onRetry: (r) => retries.push(r) }).score(['x']));
    assert.equal(s, 0.25);
    assert.equal(server.requests.length, 3);
    assert.deepEqual(retries.map((r) => r.error), ['HTTP 429 slow down', 'HTTP 503 busy']);
    assert.deepEqual(retries.map((r) => r.delayMs), [300, 10], 'Retry-After (0.3 s) exceeds the first backoff; then the doubled backoff');
    assert.ok(Date.now() - t0 >= 300);
    assert.ok(!server.urls[0].includes('key='), 'no key parameter when the variable is unset');
  } finally {
    await server.close();
  }
});

test('a 400 is not retried; the rate limit spaces request starts', async () => {
  const server = await startServer((body, _n, res) => {
    if (textOf(body) === 'refused') { res.writeHead(400); res.end('{"error": "bad comment"}'); return; }
    analyze(res, 0.1);
  }, { path: PATH });
  try {
    const scorer = perspectiveScorer({ url: server.url + PATH, apiKeyEnv: ENV, retries: 3, backoffMs: 1, concurrency: 4, ratePerSecond: 20 });
    const t0 = Date.now();
    assert.deepEqual(await scorer.score(['a', 'b', 'c', 'd', 'e']), [0.1, 0.1, 0.1, 0.1, 0.1]);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 190, `5 starts at 20/s take at least 200 ms (4 gaps), took ${elapsed}`);
    const err = await scorer.score(['refused']).then(() => null, (e: Error) => e);
    assert.ok(err instanceof JudgeIncompleteError);
    assert.match(err.message, /failed after 1 try on sample 0: HTTP 400 \{"error": "bad comment"\}/);
  } finally {
    await server.close();
  }
});

test("Google's endpoint without a key is refused before any request, naming the variable", async () => {
  await withKey(undefined, async () => assert.throws(() => perspectiveScorer({ apiKeyEnv: ENV }), new RegExp(`needs a key: set the environment variable ${ENV}`)));
  const scorer = await withKey(KEY, async () => perspectiveScorer({ apiKeyEnv: ENV }));
  const err = await withKey(undefined, () => scorer.score(['x']).then(() => null, (e: Error) => e));
  assert.match(String(err), new RegExp(`set the environment variable ${ENV}`), 'a key removed after construction is caught before any request');
  assert.throws(() => perspectiveScorer({ url: 'ftp://x' }), /Expected an http\(s\) URL for Perspective url/);
  assert.throws(() => perspectiveScorer({ ratePerSecond: 0 }), /Expected a positive number for rate/);
});

const hostile: [string, (res: ServerResponse, req: IncomingMessage) => void, RegExp][] = [
  ['malformed JSON', (res) => { res.writeHead(200); res.end('{"attributeScores": {"TOXICITY": '); }, /not JSON/],
  ['JSON without the score', (res) => { res.writeHead(200); res.end('{"attributeScores": {}}'); }, /no attributeScores\.TOXICITY\.summaryScore\.value/],
  ['a score outside [0, 1]', (res) => { res.writeHead(200); res.end('{"attributeScores": {"TOXICITY": {"summaryScore": {"value": 7}}}}'); }, /summaryScore\.value in \[0, 1\]/],
  ['truncated body', (res) => truncatedBody(res, '{"attributeScores"'), /terminated|other side closed|ECONNRESET|UND_ERR/],
  ['huge body (64 MiB)', hugeBody, /larger than 1048576 bytes/],
  ['slow drip, one byte every 100 ms (never idle, never done)', slowDrip, /timed out/],
  ['401 echoing the key', (res, req) => { res.writeHead(401); res.end(`invalid key in ${req.url}`); }, /HTTP 401 invalid key in \/v1alpha1\/comments:analyze\?key=\[api key\]/],
  ['500 echoing the key', (res, req) => { res.writeHead(500); res.end(`oops ${req.url}`); }, /HTTP 500 oops .*\[api key\]/],
  ['200 with a score and the key in an unknown field', (res, req) => { res.writeHead(200); res.end(JSON.stringify({ echo: req.url })); }, /no attributeScores.*\[api key\]/],
];

for (const [name, handle, message] of hostile) {
  test(`a Perspective endpoint answering with ${name} is bounded and reported per sample, without the key`, { timeout: 60_000 }, async () => {
    const server = await startServer((_b, n, res, req) => (n === 1 ? analyze(res, 0.9) : handle(res, req)), { path: PATH, lifetimeMs: 50_000 });
    const retries: string[] = [];
    try {
      const judge = toxicityJudge(perspectiveScorer({ url: server.url + PATH, apiKeyEnv: ENV, retries: 1, backoffMs: 1, concurrency: 1, timeoutMs: 1500, onRetry: (r) => retries.push(r.error) }));
      const err = await withKey(KEY, () => judge.judge([0, 1].map((i) => ({ behavior: '', context: '', generation: `g${i}` }))).then(() => null, (e: Error) => e));
      assert.ok(err instanceof JudgeIncompleteError, String(err));
      assert.match(err.message, /failed after (1 try|2 tries) on sample 1: /);
      assert.match(err.message, message);
      assert.match(err.message, /\(1 of 2 judged\)/);
      assert.deepEqual(err.partial[0], { harmful: true, score: 0, raw: { toxicity: 0.9 } }, 'the sample that was scored keeps its score');
      assert.equal(err.failures.length, 1);
      assert.equal(err.failures[0].index, 1);
      for (const text of [err.message, ...retries, String(err.cause), JSON.stringify(err.failures)]) {
        assert.ok(!text.includes(KEY) && !text.includes(encodeURIComponent(KEY)), text);
      }
    } finally {
      await server.close();
    }
  });
}

test('redaction covers the key as written and as a URL carries it', async () => {
  const { redact } = await import('bfpo/eval');
  const key = 'a b+c/d~e';
  assert.equal(redact(`x ${key} y a%20b%2Bc%2Fd~e z a+b%2Bc%2Fd%7Ee`, [key]), 'x [api key] y [api key] z [api key]');
  assert.equal(redact('abc', ['ab']), 'abc', 'secrets under 4 characters are not blanked out of text');
});

test('the toxicity scorer registry: specs, allowed values in errors, the local judge-model scorer', async () => {
  assert.deepEqual(parseToxicityScorerSpec('perspective'), { type: 'perspective' });
  assert.deepEqual(parseToxicityScorerSpec('perspective:http://h:1/x'), { type: 'perspective', arg: 'http://h:1/x' });
  assert.deepEqual(parseToxicityScorerSpec('classifier:/models/j'), { type: 'classifier', arg: '/models/j' });
  for (const bad of ['detoxify', 'classifier', 'classifier:', 'perspective:']) {
    assert.throws(() => parseToxicityScorerSpec(bad), /Expected a toxicity scorer \(perspective\[:URL\], classifier:PATH\) for toxicity/);
  }
  const seen: string[] = [];
  const yesNo: YesNoScorer = {
    async yesNo(prompts) {
      seen.push(...prompts);
      return prompts.map((p) => (p.includes('awful') ? { yes: 0.6, no: 0.2 } : p.includes('zero') ? { yes: 0, no: 0 } : { yes: 0.1, no: 0.7 }));
    },
  };
  const scorer = await makeToxicityScorer(parseToxicityScorerSpec('classifier:/models/j'), { loadYesNoScorer: async (p) => (assert.equal(p, '/models/j'), yesNo) });
  assert.equal(scorer.name, 'classifier:/models/j');
  const s = await scorer.score(['you are awful', 'nice day', 'zero']);
  assert.ok(Math.abs(s[0] - 0.75) < 1e-12 && Math.abs(s[1] - 0.125) < 1e-12 && s[2] === 0, String(s));
  assert.equal(seen[0], toxicityJudgePrompt('you are awful'));
  assert.match(seen[0], /^\[INST\] <<SYS>>\n.*\[TEXT\]:\nyou are awful\n\n---\nIs the text toxic\? Answer: \[\/INST\]$/s);
  assert.equal((await classifierToxicityScorer(yesNo, 'j', 2).score(['a', 'b', 'awful'])).length, 3);
});
