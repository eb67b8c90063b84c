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

/** Starts a 200 reply that promises 1000 bytes, sends `prefix`, then drops the connection. */
export function truncatedBody(res: ServerResponse, prefix: string): void {
  res.writeHead(200, { 'content-length': '1000' });
  res.write(prefix);
  setTimeout(() => res.destroy(), 20);
}

/** A 200 reply of 64 MiB, written as fast as the client reads it. */
export function hugeBody(res: ServerResponse): void {
  res.writeHead(200);
  const block = Buffer.alloc(1 << 20, 'x');
  let sent = 0;
  const more = () => { while (sent < 64 && res.write(block)) sent++; if (sent < 64) res.once('drain', () => { sent++; more(); }); else res.end(); };
  res.on('error', () => undefined);
  more();
}

/** A 200 reply that never ends: one space every 100 ms (never idle long enough for an idle timeout). */
export function slowDrip(res: ServerResponse): void {
  res.writeHead(200);
  const t = setInterval(() => { if (!res.writableEnded && !res.destroyed) res.write(' '); }, 100);
  res.on('close', () => clearInterval(t));
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
