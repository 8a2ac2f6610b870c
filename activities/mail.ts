// The Mailer seam: what the engine needs from a mail provider. The embedded default is an
// outbox of .eml files (MIME, HTML + plain text) that any mail client opens, with a journal
// of every write.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock } from './clock';

export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  /** Stable per plan + step, so a retried send maps to one message. */
  idempotencyKey: string;
  headers?: Record<string, string>;
}

export interface SentEmail {
  provider: 'outbox' | 'resend';
  messageId: string;
  /** Where the outbox wrote the message (outbox only). */
  emlPath?: string;
}

/** What became of one message of a batch: sent, or refused for good with the provider's reason. */
export type BatchItemResult = { sent: SentEmail } | { rejected: string };

/** Many messages in one provider request, under one idempotency key for the whole request. */
export interface BatchMailer {
  provider: SentEmail['provider'];
  /** The provider account whose request rate applies: the row of mail_rate_slots its requests share. */
  rateKey: string;
  /**
   * Sends the messages in one request; a result per message, in order. Throws a typed failure
   * when the request as a whole failed (retryable unless the provider refused it for good).
   * The same key with the same messages must answer the first result and send nothing again.
   * Calls `left` once the request has left for the provider (the rate counts it from there).
   */
  send(batch: { idempotencyKey: string; emails: OutgoingEmail[] }, left?: () => void): Promise<BatchItemResult[]>;
}

export interface Mailer {
  send(email: OutgoingEmail): Promise<SentEmail>;
  /** Present when the provider takes many messages per request (Resend's batch endpoint, the outbox). */
  batch?: BatchMailer;
}

/** The header that names a message's idempotency key inside a batch (and in the outbox's MIME). */
export const messageKeyHeader = 'X-Idempotency-Key';

function encodeHeader(value: string): string {
  // RFC 2047 for anything outside printable ASCII (names with accents, emoji).
  return /^[\x20-\x7e]*$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

function base64Lines(body: string): string {
  return (Buffer.from(body, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

/** Renders a multipart/alternative message; the same email renders the same bytes. */
export function toMime(email: OutgoingEmail, messageId: string): string {
  const boundary = `=_${createHash('sha256').update(email.idempotencyKey).digest('hex').slice(0, 24)}`;
  const headers: Record<string, string> = {
    'Message-ID': `<${messageId}>`,
    From: encodeHeader(email.from),
    To: encodeHeader(email.to),
    Subject: encodeHeader(email.subject),
    'MIME-Version': '1.0',
    [messageKeyHeader]: email.idempotencyKey,
    ...email.headers,
    'Content-Type': `multipart/alternative; boundary="${boundary}"`,
  };
  return [
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(email.text),
    `--${boundary}`,
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(email.html),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** The plain-text part of a message toMime rendered (to read an outbox message back). */
export function plainTextPart(mime: string): string {
  const start = mime.indexOf('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n');
  if (start < 0) throw new Error('The message has no plain-text part.');
  const body = mime.slice(mime.indexOf('\r\n\r\n', start) + 4);
  return Buffer.from(body.slice(0, body.indexOf('\r\n--')).replace(/\r\n/g, ''), 'base64').toString('utf8');
}

/** One line of the outbox's delivery journal: a message written to the outbox. */
export interface OutboxDelivery {
  at: string;
  idempotencyKey: string;
  messageId: string;
  /** The .eml file's name inside the outbox. */
  file: string;
}

/** The outbox's append-only journal, one JSON line per write, next to the .eml files. */
export const deliveryJournal = 'deliveries.jsonl';

/**
 * Writes each message to `<dir>/<idempotency key>.eml`. The file name is the idempotency key,
 * so a retried send overwrites the same message instead of adding a second one; the journal
 * keeps a line for every write, so an audit (or a test) sees a second delivery that the
 * surviving files hide. A batch writes each of its messages the same way.
 */
export function createOutboxMailer(dir: string, clock: Clock = systemClock): Mailer {
  const send = async (email: OutgoingEmail): Promise<SentEmail> => {
    await mkdir(dir, { recursive: true });
    const safeName = email.idempotencyKey.replace(/[^A-Za-z0-9._-]/g, '_');
    const messageId = `${safeName}@outbox.dunning.local`;
    const file = `${safeName}.eml`;
    const emlPath = path.join(dir, file);
    const tmp = `${emlPath}.tmp`;
    await writeFile(tmp, toMime(email, messageId));
    await rename(tmp, emlPath); // never a half-written message in the outbox
    // After the rename: a line means the message is in the outbox. One short append per write
    // (O_APPEND), so lines from concurrent sends and workers never interleave.
    const line: OutboxDelivery = { at: clock.now().toISOString(), idempotencyKey: email.idempotencyKey, messageId, file };
    await appendFile(path.join(dir, deliveryJournal), `${JSON.stringify(line)}\n`);
    return { provider: 'outbox', messageId, emlPath };
  };
  return {
    send,
    batch: {
      provider: 'outbox',
      rateKey: `outbox:${createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 16)}`,
      // Like Resend: a batch key already answered answers the same again and writes nothing, so
      // a retried batch adds no second journal line for its messages.
      async send({ idempotencyKey, emails }, left) {
        left?.();
        const answered = path.join(dir, 'batches', `${idempotencyKey.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
        const earlier = await readFile(answered, 'utf8').catch(() => undefined);
        if (earlier !== undefined) return JSON.parse(earlier) as BatchItemResult[];
        const results: BatchItemResult[] = [];
        for (const email of emails) results.push({ sent: await send(email) });
        await mkdir(path.dirname(answered), { recursive: true });
        await writeFile(answered, JSON.stringify(results));
        return results;
      },
    },
  };
}

/** Every write the outbox's journal records, oldest first (none when nothing was sent yet). */
export async function readOutboxDeliveries(dir: string): Promise<OutboxDelivery[]> {
  const text = await readFile(path.join(dir, deliveryJournal), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as OutboxDelivery);
}
