// Resend delivery through the real `resend` client against a local stand-in of its HTTP API:
// the request as Resend documents it, typed failures, and what a journey does with them.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import { createResendMailer } from '../activities/resend-mailer';
import { initiateDunning } from '../client/dunning';
import { planStatus } from '../client/status';
import { setPolicy } from '../db/policies';
import { emailMessages } from '../db/schema';
import { createPlan, dateOffset, eventually, secondsPolicy } from './fixtures';
import { startResendStandin, type ResendStandin } from './resend-standin';
import { startTestStack, type TestStack } from './support';

let standin: ResendStandin;
let stack: TestStack;
const policy = secondsPolicy(`mail-${randomUUID().slice(0, 6)}`, { upcoming_notice: 0, manual_escalation: 2 });

beforeAll(async () => {
  standin = await startResendStandin();
  // One request per message (POST /emails); test/mail-batch.test.ts covers the batch endpoint.
  stack = await startTestStack('mail', { mailer: createResendMailer({ apiKey: 're_test_key', baseUrl: standin.baseUrl }), mailBatchSize: 1 });
  await setPolicy(stack.db.db, policy);
});
afterAll(async () => {
  await stack?.close();
  await standin?.close();
});

const email = { from: 'AR <ar@example.com>', to: 'Pat <pat@example.com>', subject: 'Reminder', html: '<p>hi</p>', text: 'hi', idempotencyKey: 'plan-1:first_reminder' };

describe('the Resend mailer', () => {
  it('sends the request Resend documents, with the idempotency key as a header', async () => {
    const mailer = createResendMailer({ apiKey: 're_test_key', baseUrl: standin.baseUrl });
    const before = standin.requests.length;
    const sent = await mailer.send(email);
    expect(sent.provider).toBe('resend');
    expect(sent.messageId).toMatch(/^standin-/);
    const req = standin.requests[before]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/emails');
    expect(req.headers.authorization).toBe('Bearer re_test_key');
    expect(req.headers['idempotency-key']).toBe('plan-1:first_reminder');
    expect(req.body).toMatchObject({ from: email.from, to: [email.to], subject: 'Reminder', html: '<p>hi</p>', text: 'hi' });
  });

  it('turns a rate limit into a retryable failure that honours retry-after', async () => {
    standin.respond({ status: 429, body: { name: 'rate_limit_exceeded', message: 'Too many requests', statusCode: 429 }, headers: { 'retry-after': '3' } });
    const err = await createResendMailer({ apiKey: 'k', baseUrl: standin.baseUrl }).send(email).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'MailProviderUnavailable', nonRetryable: false, nextRetryDelay: '3s' });
  });

  it('turns a validation error into a non-retryable rejection', async () => {
    standin.respond({ status: 422, body: { name: 'validation_error', message: 'Invalid `to` field', statusCode: 422 } });
    const err = await createResendMailer({ apiKey: 'k', baseUrl: standin.baseUrl }).send(email).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'MailRejected', nonRetryable: true });
  });
});

describe('a journey sending through Resend', () => {
  async function journey() {
    const { planId } = await createPlan(stack.db.db, { invoices: [{ amountMinor: 4_200, dueOn: dateOffset(5) }] });
    await initiateDunning({ client: stack.client, db: stack.db.db, config: stack.config }, { planId, policyName: policy.name });
    return planId;
  }
  const ledger = (planId: string) => stack.db.db.select().from(emailMessages).where(eq(emailMessages.planId, planId));

  it('sends once, with one key, after a 429', async () => {
    standin.respond({ status: 429, body: { name: 'rate_limit_exceeded', message: 'slow down', statusCode: 429 }, headers: { 'retry-after': '1' } });
    const before = standin.requests.length;
    const planId = await journey();
    const s = await eventually(async () => {
      const v = await planStatus({ db: stack.db.db }, { planId });
      return v.steps[0]!.status === 'completed' ? v : undefined;
    }, 'the notice to be sent', 30_000);
    expect(s.steps[0]!.reason).toBe(`email sent to pat+${s.accountId}@example.com`);
    const mine = standin.requests.slice(before).filter((r) => r.headers['idempotency-key'] === `${planId}:upcoming_notice`);
    expect(mine).toHaveLength(2); // the 429, then the send that went through
    expect(await ledger(planId)).toMatchObject([{ status: 'sent', provider: 'resend', providerMessageId: expect.stringMatching(/^standin-/) }]);
  });

  it('marks the step failed and escalates to a rep when Resend refuses the message', async () => {
    standin.respond({ status: 422, body: { name: 'validation_error', message: 'Invalid `to` field', statusCode: 422 } });
    const planId = await journey();
    const s = await eventually(async () => {
      const v = await planStatus({ db: stack.db.db }, { planId });
      // The hand-over to a rep is queued work the loop persists after the failed step.
      return v.steps[0]!.status === 'failed' && v.tasks.length > 0 ? v : undefined;
    }, 'the notice to fail and a rep to get the plan', 30_000);
    expect(s.steps[0]!.reason).toContain('Invalid `to` field');
    expect(s.status).toBe('escalated');
    expect(s.tasks).toMatchObject([{ kind: 'email_failed', status: 'open' }]);
    expect(s.timeline.map((e) => e.kind)).toContain('email_failed');
    expect(await ledger(planId)).toMatchObject([{ status: 'failed', error: expect.stringContaining('Invalid `to` field') }]);
  });
});
