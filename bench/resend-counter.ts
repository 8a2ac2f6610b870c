// A Resend stand-in for the herd benchmark, run as a process of its own (its memory and event
// loop are not the worker's): POST /emails/batch and POST /emails with Resend's Idempotency-Key
// rules and its request limit (a request beyond `--rate` in any second is answered 429, as
// Resend would), counting deliveries per message key and keeping only numbers, so 100,000
// messages cost it a few MB. GET /stats answers what it saw. Prints {"port"} once listening.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const rate = Number(process.argv.find((a) => a.startsWith('--rate='))?.slice('--rate='.length) ?? 2);

export interface CounterStats {
  /** Arrival (ms since epoch) of every request, limited ones included, in order. */
  arrivals: number[];
  /** Messages carried by each request the stand-in took (not the 429s, not the replays). */
  messagesPerRequest: number[];
  /** Requests answered 429 because they came beyond the rate. */
  limited: number;
  /** Requests answered from an earlier one's Idempotency-Key (nothing delivered again). */
  replayed: number;
  /** Requests refused with 409: a key seen before with another body. */
  conflicts: number;
  /** Message keys (under the asked prefix) delivered once, and deliveries beyond the first. */
  distinct: number;
  doubled: number;
}

const arrivals: number[] = [];
const accepted: number[] = [];
const messagesPerRequest: number[] = [];
const deliveries = new Map<string, number>();
const answered = new Map<string, { hash: string; body: string }>();
let limited = 0;
let replayed = 0;
let conflicts = 0;
let ids = 0;

/** Whether one more request now would put rate + 1 of them inside one second. */
function overLimit(at: number): boolean {
  const earlier = accepted[accepted.length - rate];
  return earlier !== undefined && at - earlier < 1000;
}

function deliver(key: string): string {
  deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
  return `counter-${++ids}`;
}

function answerBatch(key: string | undefined, raw: string): { status: number; body: string } {
  const hash = createHash('sha256').update(raw).digest('hex');
  const earlier = key ? answered.get(key) : undefined;
  if (earlier && earlier.hash !== hash) {
    conflicts++;
    return { status: 409, body: JSON.stringify({ name: 'invalid_idempotent_request', message: 'Same idempotency key used with a different request payload.', statusCode: 409 }) };
  }
  if (earlier) {
    replayed++;
    return { status: 200, body: earlier.body };
  }
  const emails = JSON.parse(raw) as Array<{ headers?: Record<string, string> }>;
  messagesPerRequest.push(emails.length);
  const data = emails.map((e, i) => ({ id: deliver(e.headers?.['X-Idempotency-Key'] ?? `${key}#${i}`) }));
  const body = JSON.stringify({ data, errors: [] });
  if (key) answered.set(key, { hash, body });
  return { status: 200, body };
}

function stats(prefix: string): CounterStats {
  let distinct = 0;
  let doubled = 0;
  for (const [key, n] of deliveries) {
    if (!key.startsWith(prefix)) continue;
    distinct++;
    doubled += n - 1;
  }
  return { arrivals, messagesPerRequest, limited, replayed, conflicts, distinct, doubled };
}

const server = http.createServer((req, res) => {
  const at = Date.now();
  let raw = '';
  req.on('data', (c: Buffer) => (raw += c.toString()));
  req.on('end', () => {
    const reply = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    if (req.method === 'GET' && req.url?.startsWith('/stats')) {
      return reply(200, JSON.stringify(stats(new URL(req.url, 'http://x').searchParams.get('prefix') ?? '')));
    }
    arrivals.push(at);
    if (overLimit(at)) {
      limited++;
      return reply(429, JSON.stringify({ name: 'rate_limit_exceeded', message: 'Too many requests', statusCode: 429 }), { 'retry-after': '1' });
    }
    accepted.push(at);
    const key = req.headers['idempotency-key'] as string | undefined;
    if (req.url === '/emails/batch') {
      const { status, body } = answerBatch(key, raw);
      return reply(status, body);
    }
    messagesPerRequest.push(1);
    return reply(200, JSON.stringify({ id: deliver(key ?? `no-key-${ids}`) }));
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
