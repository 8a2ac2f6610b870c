// Resend delivery. Resend returns errors instead of throwing; we map them to typed failures:
// rate limits, 5xx and network faults retry (honouring retry-after), a rejected message does not.
import { ApplicationFailure } from '@temporalio/activity';
import { Resend } from 'resend';
import { failureTypes } from '../workflows/domain/failures';
import type { Mailer } from './mail';

const permanent = new Set(['validation_error', 'invalid_idempotent_request', 'missing_required_field', 'invalid_parameter', 'invalid_from_address', 'not_found']);

export function createResendMailer(opts: { apiKey: string; baseUrl?: string }): Mailer {
  const resend = new Resend(opts.apiKey, opts.baseUrl ? { baseUrl: opts.baseUrl.replace(/\/$/, '') } : undefined);
  return {
    async send(email) {
      const { data, error, headers } = await resend.emails.send(
        { from: email.from, to: [email.to], subject: email.subject, html: email.html, text: email.text, headers: email.headers },
        { idempotencyKey: email.idempotencyKey },
      );
      if (!error) return { provider: 'resend', messageId: data.id };
      const status = error.statusCode;
      if (permanent.has(error.name) || (status !== null && status >= 400 && status < 500 && status !== 429 && status !== 409)) {
        throw ApplicationFailure.create({ type: failureTypes.MailRejected, nonRetryable: true, message: `Resend refused the message: ${error.message}` });
      }
      const retryAfter = Number(headers?.['retry-after']);
      throw ApplicationFailure.create({
        type: failureTypes.MailProviderUnavailable,
        message: `Resend is unavailable (${error.name}${status ? `, HTTP ${status}` : ''}): ${error.message}`,
        nextRetryDelay: Number.isFinite(retryAfter) && retryAfter > 0 ? `${retryAfter}s` : undefined,
      });
    },
  };
}
