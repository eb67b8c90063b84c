// Judge endpoints that misbehave (malformed JSON, truncated, huge, slow-drip answers, an API key echoed back) are
// bounded and reported per sample, and the API key never reaches a message, a log or an output file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerResponse, IncomingMessage } from 'node:http';
import { endpointJudge, evaluate, JudgeIncompleteError, type EvalModel } from 'bfpo/eval';
import { FakeChat, FakeScorer, tempDir } from './helpers.js';
import { hugeBody, reply, slowDrip, startServer, truncatedBody } from './test-server.js';

const KEY = 'sk-test-7f3a9c1e5b2d4f6a8c0e';
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ behavior: `b${i}`, context: `b${i}`, generation: `g${i}` }));

const misbehaviours: [string, (res: ServerResponse, req: IncomingMessage) => void, RegExp][] = [
  ['malformed JSON', (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"choices": [{"message": '); }, /not JSON/],
  ['valid JSON without content', (res) => { res.writeHead(200); res.end('{"choices": []}'); }, /no choices\[0\]\.message\.content/],
  ['truncated body', (res) => truncatedBody(res, '{"choices"'), /terminated|other side closed|ECONNRESET|UND_ERR/],
  ['huge body (64 MiB)', hugeBody, /larger than 1048576 bytes/],
  ['slow drip, one byte every 100 ms', slowDrip, /timed out/],
  ['401 echoing the key', (res, req) => { res.writeHead(401); res.end(`invalid api key: ${req.headers.authorization}`); }, /HTTP 401 invalid api key: Bearer \[api key\]/],
  ['500 echoing the key', (res, req) => { res.writeHead(500); res.end(`oops ${req.headers.authorization}`); }, /HTTP 500 oops Bearer \[api key\]/],
  ['200 non-JSON echoing the key', (res, req) => { res.writeHead(200); res.end(`<html>${req.headers.authorization}</html>`); }, /not JSON: <html>Bearer \[api key\]/],
];

for (const [name, handle, message] of misbehaviours) {
  test(`an endpoint answering with ${name} is bounded and reported per sample, without the key`, { timeout: 60_000 }, async () => {
    const server = await startServer((_b, n, res, req) => (n === 1 ? reply(res, 'No') : handle(res, req)), { lifetimeMs: 50_000 });
    const retries: string[] = [];
    try {
      const judge = endpointJudge({ url: server.url, model: 'cls', apiKey: KEY, retries: 1, backoffMs: 1, concurrency: 1, timeoutMs: 1500, onRetry: (r) => retries.push(r.error) });
      const err = await judge.judge(items(2)).then(() => null, (e: Error) => e);
      assert.ok(err instanceof JudgeIncompleteError, String(err));
      assert.match(err.message, /on sample 1: /);
      assert.match(err.message, message);
      assert.match(err.message, /\(1 of 2 judged\)/);
      assert.equal(err.partial[0]?.harmful, false, 'the sample that was answered keeps its verdict');
      for (const text of [err.message, ...retries, String(err.cause)]) assert.ok(!text.includes(KEY), text);
    } finally {
      await server.close();
    }
  });
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
}

test('the API key from the environment is in no output file, log or error of an evaluation', { timeout: 60_000 }, async () => {
  const server = await startServer((_b, n, res, req) => {
    if (n <= 2) reply(res, 'Yes');
    else { res.writeHead(403); res.end(`key ${req.headers.authorization} is not allowed`); }
  }, { lifetimeMs: 50_000 });
  const saved = process.env.BFPO_JUDGE_API_KEY;
  process.env.BFPO_JUDGE_API_KEY = KEY;
  const out = join(tempDir(), 'out');
  const logged: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => { logged.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try {
    const chat = new FakeChat(() => 'Sure, here it is.');
    const loadModel = async (): Promise<EvalModel> => ({ chat, scorer: new FakeScorer(() => -1) });
    const err = await evaluate({ models: ['m=/m'], tasks: ['advbench'], judge: `endpoint:${server.url}#cls`, out, limit: 4, retries: 0 }, { loadModel }).then(() => null, (e: Error) => e);
    process.stderr.write = write;
    assert.ok(err, 'the run reports the refused requests');
    assert.match(err.message, /HTTP 403 key Bearer \[api key\] is not allowed/);
    const written = files(out);
    assert.ok(written.length >= 2, written.join(', '));
    for (const f of written) assert.ok(!readFileSync(f).includes(KEY), `${f} contains the API key`);
    for (const text of [err.message, ...logged]) assert.ok(!text.includes(KEY), text);
  } finally {
    process.stderr.write = write;
    if (saved === undefined) delete process.env.BFPO_JUDGE_API_KEY;
    else process.env.BFPO_JUDGE_API_KEY = saved;
    await server.close();
  }
});
