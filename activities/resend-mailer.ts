// Resend delivery. Resend returns errors instead of throwing; we map them to typed failures:
// rate limits, 5xx and network faults retry (honouring retry-after), a rejected message does not.
import { createHash } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { ApplicationFailure } from '@temporalio/activity';
import { Resend, type ErrorResponse } from 'resend';
import { failureTypes } from '../workflows/domain/failures';
import { messageKeyHeader, type BatchItemResult, type Mailer, type OutgoingEmail } from './mail';

const permanent = new Set(['validation_error', 'invalid_idempotent_request', 'missing_required_field', 'invalid_parameter', 'invalid_from_address', 'not_found']);

/** A batch request that hears nothing back fails (retryably) well inside the send activity's 20 s. */
const batchTimeoutMs = 10_000;

export function createResendMailer(opts: { apiKey: string; baseUrl?: string }): Mailer {
  const resend = new Resend(opts.apiKey, opts.baseUrl ? { baseUrl: opts.baseUrl.replace(/\/$/, '') } : undefined);
  return {
    async send(email) {
      const { data, error, headers } = await resend.emails.send(
        { from: email.from, to: [email.to], subject: email.subject, html: email.html, text: email.text, headers: email.headers },
        { idempotencyKey: email.idempotencyKey },
      );
      if (!error) return { provider: 'resend', messageId: data.id };
      throw resendFailure(error, headers, 'message');
    },
    batch: {
      provider: 'resend',
      // Resend limits requests per team; one API key is one team as far as we can tell.
      rateKey: `resend:${createHash('sha256').update(opts.apiKey).digest('hex').slice(0, 16)}`,
      async send({ idempotencyKey, emails }, left) {
        const stopWatching = left ? whenHeadersLeave(idempotencyKey, left) : () => {};
        try {
          // Permissive: one bad address refuses that message only, not the 99 others with it.
          const { data, error, headers } = await resend.batch.send(emails.map(batchEmail), {
            idempotencyKey,
            batchValidation: 'permissive',
            signal: AbortSignal.timeout(batchTimeoutMs),
          });
          if (error) throw resendFailure(error, headers, 'batch');
          return batchResults(emails.length, data);
        } finally {
          stopWatching();
        }
      },
    },
  };
}

/**
 * Calls `left` when fetch (undici) has written the headers of the request carrying this
 * Idempotency-Key to its socket; returns the unsubscribe. Should the client stop using fetch,
 * `left` never comes and the caller waits for the answer instead: slower, never faster.
 */
function whenHeadersLeave(idempotencyKey: string, left: () => void): () => void {
  const channel = diagnostics.channel('undici:client:sendHeaders');
  const onHeaders = (message: unknown) => {
    if (String((message as { request?: { headers?: unknown } }).request?.headers).includes(idempotencyKey)) left();
  };
  channel.subscribe(onHeaders);
  return () => channel.unsubscribe(onHeaders);
}

/**
 * One message of a batch request. Built from the message's fields alone, headers in sorted
 * order, so a retry re-sending the recorded batch sends the same body byte for byte (Resend
 * refuses a repeated Idempotency-Key with another body). The message's own key rides along as a
 * header: support can trace a message to its plan and step.
 */
function batchEmail(email: OutgoingEmail) {
  const headers: Record<string, string> = { ...email.headers, [messageKeyHeader]: email.idempotencyKey };
  const sorted = Object.fromEntries(Object.keys(headers).sort().map((k) => [k, headers[k]!]));
  return { from: email.from, to: [email.to], subject: email.subject, html: email.html, text: email.text, headers: sorted };
}

/**
 * Per message, in request order. In permissive mode `errors` names the refused indices and `data`
 * holds the ids of the others; should it hold one entry per message instead, index it directly.
 */
function batchResults(count: number, data: { data: Array<{ id: string }>; errors?: Array<{ index: number; message: string }> }): BatchItemResult[] {
  const refused = new Map((data.errors ?? []).map((e) => [e.index, e.message]));
  const ids = data.data.length === count ? data.data : undefined;
  let next = 0;
  return Array.from({ length: count }, (_, i): BatchItemResult => {
    const reason = refused.get(i);
    if (reason !== undefined) return { rejected: `Resend refused the message: ${reason}` };
    const id = (ids ? ids[i] : data.data[next++])?.id;
    if (!id) throw new Error(`Resend answered the batch without an id for message ${i}.`);
    return { sent: { provider: 'resend', messageId: id } };
  });
}

/** The typed failure for an error Resend answered: refused for good, or unavailable for now. */
function resendFailure(error: ErrorResponse, headers: Record<string, string> | null, what: 'message' | 'batch'): ApplicationFailure {
  const status = error.statusCode;
  if (permanent.has(error.name) || (status !== null && status >= 400 && status < 500 && status !== 429 && status !== 409)) {
    return ApplicationFailure.create({ type: failureTypes.MailRejected, nonRetryable: true, message: `Resend refused the ${what}: ${error.message}` });
  }
  const retryAfter = Number(headers?.['retry-after']);
  return ApplicationFailure.create({
    type: failureTypes.MailProviderUnavailable,
    message: `Resend is unavailable (${error.name}${status ? `, HTTP ${status}` : ''}): ${error.message}`,
    nextRetryDelay: Number.isFinite(retryAfter) && retryAfter > 0 ? `${retryAfter}s` : undefined,
  });
}
