// The Mailer seam: what the engine needs from a mail provider. The embedded default is an
// outbox of .eml files (MIME, HTML + plain text) that any mail client opens.
import { createHash } from 'node:crypto';
import { mkdir, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';

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

export interface Mailer {
  send(email: OutgoingEmail): Promise<SentEmail>;
}

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
    'X-Idempotency-Key': email.idempotencyKey,
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

/**
 * Writes each message to `<dir>/<idempotency key>.eml`. The file name is the idempotency key,
 * so a retried send overwrites the same message instead of adding a second one.
 */
export function createOutboxMailer(dir: string): Mailer {
  return {
    async send(email) {
      await mkdir(dir, { recursive: true });
      const safeName = email.idempotencyKey.replace(/[^A-Za-z0-9._-]/g, '_');
      const messageId = `${safeName}@outbox.dunning.local`;
      const emlPath = path.join(dir, `${safeName}.eml`);
      const tmp = `${emlPath}.tmp`;
      await writeFile(tmp, toMime(email, messageId));
      await rename(tmp, emlPath); // never a half-written message in the outbox
      return { provider: 'outbox', messageId, emlPath };
    },
  };
}
