// A local stand-in for Resend's HTTP API (POST /emails and POST /emails/batch), so the real
// `resend` client can be pointed at it. Each test queues the responses it wants; every request is
// recorded, and every message it takes as a send is logged as a delivery, so a second send of a
// key shows. The batch endpoint keeps Resend's Idempotency-Key rules: the same key with the same
// body answers the first result and delivers nothing; another body is a 409.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** A batch request's messages, in order (its body is an array). */
  emails?: Array<Record<string, unknown>>;
  /** When it reached the stand-in (ms since epoch): what a rate limit counts. */
  at: number;
}

export interface StandinResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A message the stand-in took as a send (not one answered with a queued error). */
export interface Delivery {
  /** The request's Idempotency-Key, or for a batch the message's own (its X-Idempotency-Key header). */
  idempotencyKey: string;
  /** The batch request's Idempotency-Key, for a message that came in a batch. */
  batchKey?: string;
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
  /** Refuse messages to this address from now on: that index's error in a permissive batch, a 422 otherwise. */
  refuseAddress(address: string, message: string): void;
  /** Responses served in order; when empty, every request succeeds with a new id. */
  respond(...responses: StandinResponse[]): void;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body: unknown;
}

export async function startResendStandin(): Promise<ResendStandin> {
  const requests: RecordedRequest[] = [];
  const queue: StandinResponse[] = [];
  const deliveries: Delivery[] = [];
  const delivered = new Map<string, string>();
  /** Batch Idempotency-Key → the body's hash and the first answer. */
  const batches = new Map<string, { bodyHash: string; answer: Answer }>();
  const refused = new Map<string, string>();
  let swallow = false;
  let ids = 0;

  /** Delivers a message (or, for a key delivered before, answers its first id as Resend does). */
  function deliver(key: string, answered: boolean, batchKey?: string): string {
    const id = delivered.get(key) ?? `standin-${++ids}`;
    delivered.set(key, id);
    deliveries.push({ idempotencyKey: key, ...(batchKey && { batchKey }), id, at: Date.now(), answered });
    return id;
  }

  function refusal(email: Record<string, unknown>): string | undefined {
    const to = Array.isArray(email.to) ? email.to.join(',') : String(email.to);
    return [...refused].find(([address]) => to.includes(address))?.[1];
  }

  function sendOne(req: http.IncomingMessage, body: Record<string, unknown>, answered: boolean): Answer {
    const reason = refusal(body);
    if (reason) return { status: 422, body: { name: 'validation_error', message: reason, statusCode: 422 } };
    return { status: 200, body: { id: deliver(String(req.headers['idempotency-key'] ?? `no-key-${ids}`), answered) } };
  }

  function sendBatch(req: http.IncomingMessage, raw: string, answered: boolean): Answer {
    const key = req.headers['idempotency-key'] as string | undefined;
    const bodyHash = createHash('sha256').update(raw).digest('hex');
    const earlier = key ? batches.get(key) : undefined;
    if (earlier && earlier.bodyHash !== bodyHash) {
      return { status: 409, body: { name: 'invalid_idempotent_request', message: 'Same idempotency key used with a different request payload.', statusCode: 409 } };
    }
    if (earlier) return earlier.answer;
    const emails = JSON.parse(raw) as Array<Record<string, unknown>>;
    const permissive = req.headers['x-batch-validation'] === 'permissive';
    const reasons = emails.map(refusal);
    const firstRefused = reasons.findIndex((r) => r !== undefined);
    let answer: Answer;
    if (!permissive && firstRefused >= 0) {
      answer = { status: 422, body: { name: 'validation_error', message: `emails[${firstRefused}]: ${reasons[firstRefused]}`, statusCode: 422 } };
    } else {
      const data: Array<{ id: string }> = [];
      const errors: Array<{ index: number; message: string }> = [];
      emails.forEach((email, index) => {
        const reason = reasons[index];
        if (reason !== undefined) return errors.push({ index, message: reason });
        const headers = (email.headers ?? {}) as Record<string, string>;
        data.push({ id: deliver(headers['X-Idempotency-Key'] ?? `${key ?? 'no-key'}#${index}`, answered, key) });
      });
      answer = { status: 200, body: permissive ? { data, errors } : { data } };
    }
    if (key) batches.set(key, { bodyHash, answer });
    return answer;
  }

  const server = http.createServer((req, res) => {
    const at = Date.now();
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const parsed = raw ? (JSON.parse(raw) as unknown) : {};
      const emails = Array.isArray(parsed) ? (parsed as Array<Record<string, unknown>>) : undefined;
      const body = emails ? {} : (parsed as Record<string, unknown>);
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body, ...(emails && { emails }), at });
      const queued = queue.shift();
      if (queued) {
        res.writeHead(queued.status, { 'content-type': 'application/json', ...queued.headers });
        res.end(JSON.stringify(queued.body));
        return;
      }
      const answered = !swallow;
      const answer = req.url === '/emails/batch' ? sendBatch(req, raw, answered) : sendOne(req, body, answered);
      if (swallow) {
        swallow = false;
        return; // delivered, but the answer never comes
      }
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
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
    refuseAddress: (address, message) => refused.set(address, message),
    respond: (...responses) => queue.push(...responses),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The most requests that reached the stand-in within any one second (a window sliding over every arrival). */
export function busiestSecond(requests: Array<Pick<RecordedRequest, 'at'>>): number {
  const at = requests.map((r) => r.at).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i]! - at[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** The shortest time (ms) spanning `n` consecutive arrivals: under 1000 for n = rate + 1 means the rate was exceeded. */
export function tightestSpan(requests: Array<Pick<RecordedRequest, 'at'>>, n: number): number {
  const at = requests.map((r) => r.at).sort((a, b) => a - b);
  let tightest = Infinity;
  for (let i = 0; i + n - 1 < at.length; i++) tightest = Math.min(tightest, at[i + n - 1]! - at[i]!);
  return tightest;
}
