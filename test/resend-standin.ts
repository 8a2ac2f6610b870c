// A local stand-in for Resend's HTTP API (POST /emails), so the real `resend` client can be
// pointed at it. Each test queues the responses it wants; every request is recorded, and every
// request it takes as a send is logged as a delivery, so a second send of a key shows.
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

/** A request the stand-in took as a send (not one answered with a queued error). */
export interface Delivery {
  idempotencyKey: string;
  /** The message id answered (for a repeated key, the first one, as Resend does). */
  id: string;
  at: number;
  /** false: swallowed, the caller never heard back. */
  answered: boolean;
}

export interface ResendStandin {
  baseUrl: string;
  requests: RecordedRequest[];
  /** Every send, in arrival order, repeats included: count them per key to see a duplicate. */
  deliveries: Delivery[];
  /** Message id per key: like Resend, a repeated Idempotency-Key returns the first result. */
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
  const deliveries: Delivery[] = [];
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
      deliveries.push({ idempotencyKey: key, id, at: Date.now(), answered: !swallow });
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
    deliveries,
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
