// A bounded local OpenAI-compatible test server on 127.0.0.1: answers at most `maxRequests` requests and closes
// itself after `lifetimeMs`, so a failing test never leaves it running.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  url: string;
  port: number;
  requests: Record<string, unknown>[];
  /** The path and query of each accepted request. */
  urls: string[];
  /** Requests whose headers arrived (counted before the body is read). */
  arrivals: number;
  maxInFlight: number;
  close(): Promise<void>;
}

export type Handler = (body: Record<string, unknown>, n: number, res: ServerResponse, req: IncomingMessage) => void;

/** Replies with a chat completion whose content is `content`. */
export function reply(res: ServerResponse, content: string): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
}

export async function startServer(handler: Handler, o: { maxRequests?: number; lifetimeMs?: number; port?: number; delayMs?: number; path?: string } = {}): Promise<TestServer> {
  const max = o.maxRequests ?? 100;
  const requests: Record<string, unknown>[] = [];
  const urls: string[] = [];
  const path = o.path ?? '/v1/chat/completions';
  let inFlight = 0;
  const state = { maxInFlight: 0, arrivals: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.arrivals++;
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      if (requests.length >= max || (req.url ?? '').split('?')[0] !== path || req.method !== 'POST') {
        res.writeHead(requests.length >= max ? 503 : 404).end('unexpected');
        return;
      }
      const body = JSON.parse(data) as Record<string, unknown>;
      requests.push(body);
      urls.push(req.url ?? '');
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      res.on('close', () => inFlight--);
      const go = () => handler(body, requests.length, res, req);
      if (o.delayMs) setTimeout(go, o.delayMs);
      else go();
    });
  });
  await new Promise<void>((r) => server.listen(o.port ?? 0, '127.0.0.1', r));
  const timer = setTimeout(() => void close(), o.lifetimeMs ?? 20_000);
  timer.unref();
  let closed = false;
  async function close() {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, port, requests, urls, close,
    get maxInFlight() { return state.maxInFlight; },
    get arrivals() { return state.arrivals; },
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, read, then released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
