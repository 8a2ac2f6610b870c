// Sending a plan's email. Everything is re-checked at the moment of sending, not at
// scheduling: still owed, contact still consenting, inside the send window, not already sent.
import { ApplicationFailure, log, metricMeter } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import { emailMessages } from '../db/schema';
import { loadPlanContext } from '../db/plans';
import { isTemplateName, renderEmail, unsubscribeHeaders, type EmailContext } from '../templates';
import { emailContextFor } from '../templates/context';
import { payLinkSettings } from '../templates/pay-link';
import { failureTypes } from '../workflows/domain/failures';
import type { SendWindow } from '../workflows/domain/policy';
import { nextInSendWindow } from '../workflows/domain/calendar';
import { metricHelp, metricNames, type EmailOutcome } from '../workflows/domain/metrics';
import type { ActivityDeps } from './deps';
import type { SentEmail } from './mail';
import { unknownPlan } from './plans';

export type StepEmailResult =
  | { outcome: 'sent'; to: string; subject: string; outstandingMinor: number }
  | { outcome: 'outside_window'; retryAt: string; outstandingMinor: number }
  | { outcome: 'nothing_owed'; outstandingMinor: number }
  | { outcome: 'opted_out'; outstandingMinor: number }
  | { outcome: 'no_contact'; outstandingMinor: number };

export interface PlanEmailInput {
  planId: string;
  /** Names the message within the plan (a step key, or e.g. "payment:P-1:receipt"). */
  stepKey: string;
  template: string;
  /**
   * dunning: asks for money, so it needs something owed and the contact's consent;
   * transactional: a receipt or a confirmation the customer asked for.
   */
  kind?: 'dunning' | 'transactional';
  sendWindow?: SendWindow;
  /** The workflow's time of acting (server time, which the time-skipping test server moves). */
  at: string;
  promise?: EmailContext['promise'];
  payment?: EmailContext['payment'];
}

/** One key per plan and message: stable across retries and continue-as-new. */
export function emailIdempotencyKey(planId: string, stepKey: string): string {
  return `${planId}:${stepKey}`;
}

/** What a send that returned came to, as dunning_emails_total counts it. */
function emailOutcome(result: StepEmailResult): EmailOutcome {
  if (result.outcome === 'sent') return 'sent';
  return result.outcome === 'outside_window' ? 'deferred' : 'skipped';
}

export function createStepEmailActivities(deps: ActivityDeps) {
  return {
    /** Sends (or not, and says why) and counts what came of it under the message's template. */
    async sendStepEmail(input: PlanEmailInput): Promise<StepEmailResult> {
      let result: Awaited<ReturnType<typeof sendOnce>>;
      try {
        result = await sendOnce(deps, input);
      } catch (err) {
        // Refused for good (bad address, unknown template) or a fault the retry policy retries.
        countEmail(input.template, err instanceof ApplicationFailure && err.nonRetryable ? 'failed' : 'error');
        throw err;
      }
      // A retry that finds the message already in the ledger was counted when it was sent.
      if ('alreadySent' in result) return result.alreadySent;
      countEmail(input.template, emailOutcome(result));
      return result;
    },
  };
}

function countEmail(template: string, outcome: EmailOutcome): void {
  metricMeter.createCounter(metricNames.emails, undefined, metricHelp.emails).add(1, { template, outcome });
}

async function sendOnce({ db, mailer, clock, config }: ActivityDeps, input: PlanEmailInput): Promise<StepEmailResult | { alreadySent: StepEmailResult }> {
  const idempotencyKey = emailIdempotencyKey(input.planId, input.stepKey);
  const [ctx, [already]] = await Promise.all([
    loadPlanContext(db, input.planId),
    db.select().from(emailMessages).where(eq(emailMessages.idempotencyKey, idempotencyKey)),
  ]);
  if (!ctx) throw unknownPlan(input.planId);
  const owed = ctx.outstandingMinor;
  const dunning = (input.kind ?? 'dunning') === 'dunning';

  // The ledger first: a message already sent is never sent again, whatever changed since.
  if (already?.status === 'sent') return { alreadySent: { outcome: 'sent', to: already.toAddress, subject: already.subject, outstandingMinor: owed } };

  if (dunning && owed <= 0) return { outcome: 'nothing_owed', outstandingMinor: 0 };
  if (!ctx.contact) return { outcome: 'no_contact', outstandingMinor: owed };
  if (dunning && ctx.contact.optedOut) return { outcome: 'opted_out', outstandingMinor: owed };
  const now = new Date(input.at);
  const openAt = nextInSendWindow(now, input.sendWindow, ctx.timeZone);
  if (openAt.getTime() > now.getTime()) return { outcome: 'outside_window', retryAt: openAt.toISOString(), outstandingMinor: owed };

  if (!isTemplateName(input.template)) {
    throw ApplicationFailure.create({ type: failureTypes.MailRejected, nonRetryable: true, message: `Unknown email template "${input.template}".` });
  }
  // The pay link expires its ttl after `at`, the workflow's instant for this step, which every
  // retry of the activity receives unchanged: the same step always renders the same message.
  const email = emailContextFor(ctx, {
    at: now,
    optOutUrl: config.mail.optOutUrl,
    payLink: dunning ? payLinkSettings(config.payLink) : undefined,
    promise: input.promise,
    payment: input.payment,
  });
  const rendered = renderEmail(input.template, email);
  if (!already) {
    await db
      .insert(emailMessages)
      .values({
        planId: input.planId,
        stepKey: input.stepKey,
        idempotencyKey,
        toAddress: ctx.contact.email,
        subject: rendered.subject,
        template: input.template,
        provider: config.mail.resendApiKey ? 'resend' : 'outbox',
        status: 'queued',
      })
      .onConflictDoNothing({ target: emailMessages.idempotencyKey });
  }
  let sent: SentEmail;
  try {
    sent = await mailer.send({
      from: config.mail.from,
      to: `${ctx.contact.name} <${ctx.contact.email}>`,
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      idempotencyKey,
      headers: unsubscribeHeaders(email.optOutUrl),
    });
  } catch (err) {
    if (err instanceof ApplicationFailure && err.nonRetryable) {
      await db.update(emailMessages).set({ status: 'failed', error: err.message }).where(eq(emailMessages.idempotencyKey, idempotencyKey));
    }
    throw err;
  }
  await db
    .update(emailMessages)
    .set({
      status: 'sent',
      provider: sent.provider,
      providerMessageId: sent.messageId,
      emlPath: sent.emlPath ?? null,
      sentAt: clock.now(),
      toAddress: ctx.contact.email,
      subject: rendered.subject,
    })
    .where(eq(emailMessages.idempotencyKey, idempotencyKey));
  log.info('dunning email sent', { planId: input.planId, stepKey: input.stepKey, provider: sent.provider });
  return { outcome: 'sent', to: ctx.contact.email, subject: rendered.subject, outstandingMinor: owed };
}
