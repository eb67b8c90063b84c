// The endpoint judge against local test servers: answers, concurrency limit, retries with backoff, timeouts,
// unreachable ports (clear error after retries, partial verdicts kept) and URL forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JudgeIncompleteError } from 'bfpo';
import { chatCompletionsUrl, endpointJudge } from 'bfpo/eval';
import { freePort, reply, startServer } from './test-server.js';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ behavior: `behaviour ${i}`, context: `behaviour ${i}`, generation: i % 2 ? 'Sure, step 1' : 'I cannot' }));
const userText = (body: Record<string, unknown>) => ((body.messages as { content: string }[])[1]).content;

test('asks the classifier question and reads yes/no; respects the concurrency limit', async () => {
  const server = await startServer((body, _n, res) => reply(res, userText(body).includes('Sure, step 1') ? 'Yes' : ' no.'), { delayMs: 20 });
  try {
    const judge = endpointJudge({ url: server.url, model: 'cls', concurrency: 2 });
    const v = await judge.judge(items(6));
    assert.deepEqual(v.map((x) => x.harmful), [false, true, false, true, false, true]);
    assert.deepEqual(v[1].raw, { answer: 'Yes', parsed: 'yes' });
    assert.equal(server.requests.length, 6);
    assert.ok(server.maxInFlight <= 2 && server.maxInFlight >= 1, `in flight ${server.maxInFlight}`);
    const body = server.requests[0];
    assert.equal(body.model, 'cls');
    assert.equal(body.temperature, 0);
    const messages = body.messages as { role: string; content: string }[];
    assert.deepEqual(messages.map((m) => m.role), ['system', 'user']);
    assert.match(messages[0].content, /^You are a classifier for red teaming/);
    assert.match(messages[1].content, /^Behavior:\nbehaviour 0\n\nGeneration:\nI cannot\n/);
  } finally {
    await server.close();
  }
});

test('an unreadable answer counts as harmful and is kept', async () => {
  const server = await startServer((_b, _n, res) => reply(res, 'I am not sure'));
  try {
    const [v] = await endpointJudge({ url: server.url, model: 'cls' }).judge(items(1));
    assert.deepEqual(v, { harmful: true, score: 0, raw: { answer: 'I am not sure', parsed: null } });
  } finally {
    await server.close();
  }
});

test('a server that fails twice then answers: retried with doubling backoff', async () => {
  const server = await startServer((_b, n, res) => (n <= 2 ? res.writeHead(503).end('busy') : reply(res, 'No')));
  const retries: { attempt: number; delayMs: number; error: string }[] = [];
  try {
    const judge = endpointJudge({ url: `${server.url}/v1`, model: 'cls', retries: 3, backoffMs: 5, onRetry: (r) => retries.push(r) });
    const [v] = await judge.judge(items(1));
    assert.equal(v.harmful, false);
    assert.equal(server.requests.length, 3);
    assert.deepEqual(retries.map((r) => [r.attempt, r.delayMs]), [[1, 5], [2, 10]]);
    assert.match(retries[0].error, /HTTP 503 busy/);
  } finally {
    await server.close();
  }
});

test('a client error (400) is not retried', async () => {
  const server = await startServer((_b, _n, res) => res.writeHead(400).end('bad model'));
  try {
    await assert.rejects(endpointJudge({ url: server.url, model: 'x', retries: 5, backoffMs: 1 }).judge(items(1)),
      /Judge endpoint http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions failed after 1 try: HTTP 400 bad model \(0 of 1 judged\)/);
    assert.equal(server.requests.length, 1);
  } finally {
    await server.close();
  }
});

test('a hanging server times out after its retries', async () => {
  const server = await startServer(() => {}, { maxRequests: 10 });
  try {
    const judge = endpointJudge({ url: server.url, model: 'cls', timeoutMs: 200, retries: 1, backoffMs: 1 });
    await assert.rejects(judge.judge(items(1)), /failed after 2 tries: timed out \(0 of 1 judged\)/);
    assert.equal(server.arrivals, 2);
  } finally {
    await server.close();
  }
});

test('an unreachable port: clear error after the retries, verdicts reached so far kept', async () => {
  const port = await freePort();
  const judge = endpointJudge({ url: `http://127.0.0.1:${port}`, model: 'cls', retries: 2, backoffMs: 1 });
  await assert.rejects(judge.judge(items(2)), (e: unknown) => {
    assert.ok(e instanceof JudgeIncompleteError);
    assert.match(e.message, new RegExp(`Judge endpoint http://127.0.0.1:${port}/v1/chat/completions failed after 3 tries: ECONNREFUSED`));
    assert.deepEqual(e.partial, [undefined, undefined]);
    return true;
  });
  // A server that stops after two answers: the two verdicts come back with the error.
  const server = await startServer((_b, _n, res) => reply(res, 'No'), { maxRequests: 2 });
  try {
    const j = endpointJudge({ url: server.url, model: 'cls', concurrency: 1, retries: 1, backoffMs: 1 });
    await assert.rejects(j.judge(items(4)), (e: unknown) => {
      assert.ok(e instanceof JudgeIncompleteError);
      assert.equal(e.partial.filter(Boolean).length, 2);
      assert.match(e.message, /HTTP 503 unexpected \(2 of 4 judged\)/);
      return true;
    });
  } finally {
    await server.close();
  }
});

test('endpoint URLs', () => {
  assert.equal(chatCompletionsUrl('http://h:8000'), 'http://h:8000/v1/chat/completions');
  assert.equal(chatCompletionsUrl('http://h:8000/v1/'), 'http://h:8000/v1/chat/completions');
  assert.equal(chatCompletionsUrl('http://h/api/v1/chat/completions'), 'http://h/api/v1/chat/completions');
  assert.throws(() => chatCompletionsUrl('ftp://h'), /Expected an http\(s\) URL for endpoint url but received "ftp:\/\/h"/);
  assert.throws(() => chatCompletionsUrl('not a url'), /Expected an http\(s\) URL for endpoint url/);
  assert.throws(() => endpointJudge({ url: 'http://h', model: 'm', concurrency: 0 }), /Expected a positive integer for concurrency but received 0/);
});
