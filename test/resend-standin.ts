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
  /** Responses served in order; when empty, every request succeeds with a new id. */
  respond(...responses: StandinResponse[]): void;
  close(): Promise<void>;
}

export async function startResendStandin(): Promise<ResendStandin> {
  const requests: RecordedRequest[] = [];
  const queue: StandinResponse[] = [];
  let ids = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {}, at: Date.now() });
      const next = queue.shift() ?? { status: 200, body: { id: `standin-${++ids}` } };
      res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
      res.end(JSON.stringify(next.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    respond: (...responses) => queue.push(...responses),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
