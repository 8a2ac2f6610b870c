// A local stand-in for Resend's HTTP API (POST /emails), so the real `resend` client can be
// pointed at it. Each test queues the responses it wants; every request is recorded.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** When it arrived (ms since epoch). */
  at: number;
}

export interface StandinResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface ResendStandin {
  baseUrl: string;
  requests: RecordedRequest[];
  /** Messages delivered: like Resend, a repeated Idempotency-Key returns the first result. */
  delivered: Map<string, string>;
  /** Accept (deliver) the next request but never answer it, as if the caller died meanwhile. */
  swallowNext(): void;
  /** Responses served in order; when empty, every request succeeds with a new id. */
  respond(...responses: StandinResponse[]): void;
  close(): Promise<void>;
}

export async function startResendStandin(): Promise<ResendStandin> {
  const requests: RecordedRequest[] = [];
  const queue: StandinResponse[] = [];
  const delivered = new Map<string, string>();
  let swallow = false;
  let ids = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {}, at: Date.now() });
      const queued = queue.shift();
      if (queued) {
        res.writeHead(queued.status, { 'content-type': 'application/json', ...queued.headers });
        res.end(JSON.stringify(queued.body));
        return;
      }
      const key = String(req.headers['idempotency-key'] ?? `no-key-${ids}`);
      const id = delivered.get(key) ?? `standin-${++ids}`;
      delivered.set(key, id);
      if (swallow) {
        swallow = false;
        return; // delivered, but the answer never comes
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    delivered,
    swallowNext: () => {
      swallow = true;
    },
    respond: (...responses) => queue.push(...responses),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
