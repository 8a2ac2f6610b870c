// Sending a plan's email. Everything is re-checked at the moment of sending, not at
// scheduling: still owed, contact still consenting, inside the send window, not already sent.
import { ApplicationFailure, Context, log, metricMeter } from '@temporalio/activity';
import { eq, sql } from 'drizzle-orm';
import { emailMessages } from '../db/schema';
import { loadPlanContext } from '../db/plans';
import { isTemplateName, renderEmail, unsubscribeHeaders, type EmailContext } from '../templates';
import { emailContextFor } from '../templates/context';
import { payLinkSettings } from '../templates/pay-link';
import { failureTypes } from '../workflows/domain/failures';
import { lateFeeMinor, type ContactCap, type LateFee, type SendWindow } from '../workflows/domain/policy';
import { durationMs } from '../workflows/domain/duration';
import { formatMoney } from '../workflows/domain/money';
import { words } from '../workflows/domain/timeline';
import type { Database } from '../db/connection';
import { nextInSendWindow } from '../workflows/domain/calendar';
import { metricHelp, metricNames, type EmailOutcome } from '../workflows/domain/metrics';
import type { ActivityDeps } from './deps';
import type { OutgoingEmail, SentEmail } from './mail';
import { batchesMail, createMailBatcher, type BatchedEmail, type MailBatcher } from './mail-batcher';
import { unknownPlan } from './plans';

export type StepEmailResult =
  | { outcome: 'sent'; to: string; subject: string; outstandingMinor: number; fee?: { amountMinor: number; display: string } }
  | { outcome: 'outside_window'; retryAt: string; outstandingMinor: number }
  | { outcome: 'capped'; retryAt: string; outstandingMinor: number; cap: ContactCap }
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
  /** The policy's cap on dunning messages per contact, counted across all their plans now. */
  contactCap?: ContactCap;
  /** The step's late fee, added once (the first time the step sends) and shown in its email. */
  fee?: LateFee;
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
  return result.outcome === 'outside_window' || result.outcome === 'capped' ? 'deferred' : 'skipped';
}

export function createStepEmailActivities(deps: ActivityDeps) {
  // One per process (the worker builds its activities once): every send of this process shares it.
  const batcher = deps.mailer.batch && createMailBatcher(deps, deps.mailer.batch);
  return {
    /** Sends (or not, and says why) and counts what came of it under the message's template. */
    async sendStepEmail(input: PlanEmailInput): Promise<StepEmailResult> {
      let result: Awaited<ReturnType<typeof sendOnce>>;
      try {
        result = await sendOnce(deps, batcher, input);
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

async function sendOnce(
  deps: ActivityDeps,
  batcher: MailBatcher | undefined,
  input: PlanEmailInput,
): Promise<StepEmailResult | { alreadySent: StepEmailResult }> {
  const { db, config } = deps;
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

  // A message in a recorded batch may have reached the provider already: it goes on with that
  // batch whatever changed since (the re-send is answered, not sent again, by the provider).
  const inBatch = already?.batchId != null;
  const now = new Date(input.at);
  if (!inBatch && dunning && owed <= 0) return { outcome: 'nothing_owed', outstandingMinor: 0 };
  if (!ctx.contact) return { outcome: 'no_contact', outstandingMinor: owed };
  if (!inBatch) {
    if (dunning && ctx.contact.optedOut) return { outcome: 'opted_out', outstandingMinor: owed };
    const openAt = nextInSendWindow(now, input.sendWindow, ctx.timeZone);
    if (openAt.getTime() > now.getTime()) return { outcome: 'outside_window', retryAt: openAt.toISOString(), outstandingMinor: owed };
  }

  if (!isTemplateName(input.template)) {
    throw ApplicationFailure.create({ type: failureTypes.MailRejected, nonRetryable: true, message: `Unknown email template "${input.template}".` });
  }
  const contact = ctx.contact;
  const template = input.template;
  // The cap's count, the step's fee and the ledger row in one transaction, under a lock on the
  // address when a cap applies: two plans of one contact sending at once cannot both take the
  // last place under the cap. With no cap to count and no fee to add, the ledger row is one
  // statement and needs no transaction of its own.
  const cap = dunning && !already ? input.contactCap : undefined;
  const lateFee = dunning ? input.fee : undefined;
  const prepare = async (tx: Queries) => {
    if (cap) {
      const capped = await contactCapReached(tx, contact.email, cap, now);
      if (capped) return { capped, plan: undefined };
    }
    const fee = lateFee ? await addLateFee(tx, { plan: ctx, stepKey: input.stepKey, fee: lateFee }) : undefined;
    // With a fee added, the email shows it among the items and in the total.
    const plan = fee?.added ? ((await loadPlanContext(tx, input.planId)) ?? ctx) : ctx;
    // The pay link expires its ttl after `at`, the workflow's instant for this step, which every
    // retry of the activity receives unchanged: the same step always renders the same message.
    const email = emailContextFor(plan, {
      at: now,
      optOutUrl: config.mail.optOutUrl,
      payLink: dunning ? payLinkSettings(config.payLink) : undefined,
      promise: input.promise,
      payment: input.payment,
    });
    const rendered = renderEmail(template, email);
    if (!already) {
      await tx
        .insert(emailMessages)
        .values({
          planId: input.planId,
          stepKey: input.stepKey,
          idempotencyKey,
          toAddress: contact.email,
          subject: rendered.subject,
          template,
          kind: dunning ? 'dunning' : 'transactional',
          provider: config.mail.resendApiKey ? 'resend' : 'outbox',
          status: 'queued',
          createdAt: now,
        })
        .onConflictDoNothing({ target: emailMessages.idempotencyKey });
    }
    return { plan, email, rendered, fee };
  };
  const prepared = cap || lateFee ? await db.transaction(prepare) : await prepare(db);
  if (prepared.plan === undefined) {
    const retryAt = prepared.capped.toISOString();
    log.info('dunning email held by the contact cap', { planId: input.planId, stepKey: input.stepKey, retryAt });
    return { outcome: 'capped', retryAt, outstandingMinor: owed, cap: input.contactCap! };
  }
  const { plan, email, rendered, fee } = prepared;
  const outgoing: OutgoingEmail = {
    from: config.mail.from,
    to: `${contact.name} <${contact.email}>`,
    subject: rendered.subject,
    html: rendered.html,
    text: rendered.text,
    idempotencyKey,
    headers: unsubscribeHeaders(email.optOutUrl),
  };
  const sent = await deliver(deps, batcher, { email: outgoing, toAddress: contact.email }, already?.batchId ?? undefined);
  log.info('dunning email sent', { planId: input.planId, stepKey: input.stepKey, provider: sent.provider });
  return {
    outcome: 'sent',
    to: contact.email,
    subject: rendered.subject,
    outstandingMinor: plan.outstandingMinor,
    ...(fee && fee.amountMinor > 0 && { fee: { amountMinor: fee.amountMinor, display: formatMoney(fee.amountMinor, plan.currency, plan.locale) } }),
  };
}

/**
 * Hands the message to the provider and records the outcome in the ledger: again in the batch
 * already recorded for it, in the next batch, or alone (mail.batchSize 1, or a provider without
 * batches). A refusal for good throws MailRejected with the ledger row failed.
 */
async function deliver(deps: ActivityDeps, batcher: MailBatcher | undefined, message: BatchedEmail, batchId: string | undefined): Promise<SentEmail> {
  const signal = Context.current().cancellationSignal;
  if (batchId !== undefined) {
    if (!batcher) throw new Error(`Message ${message.email.idempotencyKey} is in a batch, and this worker's mail provider sends no batches.`);
    return batcher.resend(batchId, message.email.idempotencyKey, signal);
  }
  if (batcher && batchesMail(deps.mailer, deps.config.mail)) return batcher.send(message, signal);
  return sendAlone(deps, message);
}

async function sendAlone({ db, mailer, clock }: ActivityDeps, { email, toAddress }: BatchedEmail): Promise<SentEmail> {
  const row = eq(emailMessages.idempotencyKey, email.idempotencyKey);
  let sent: SentEmail;
  try {
    sent = await mailer.send(email);
  } catch (err) {
    if (err instanceof ApplicationFailure && err.nonRetryable) await db.update(emailMessages).set({ status: 'failed', error: err.message }).where(row);
    throw err;
  }
  await db
    .update(emailMessages)
    .set({ status: 'sent', provider: sent.provider, providerMessageId: sent.messageId, emlPath: sent.emlPath ?? null, sentAt: clock.now(), toAddress, subject: email.subject })
    .where(row);
  return sent;
}

/** The database, or a transaction on it. */
type Queries = Pick<Database, 'execute' | 'insert'>;

/**
 * Whether the address has had `max` dunning messages within the rolling window ending now (any
 * plan, queued or sent): if so, the moment the oldest of them leaves the window, when the next
 * one may go. Takes a lock on the address for the rest of the transaction.
 */
async function contactCapReached(tx: Queries, address: string, cap: ContactCap, now: Date): Promise<Date | undefined> {
  const key = address.trim().toLowerCase();
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`contact-cap:${key}`}, 0))`);
  const perMs = durationMs(cap.per);
  const since = new Date(now.getTime() - perMs);
  const rows = await tx.execute<{ at: string }>(sql`
    select created_at as at from email_messages
    where lower(to_address) = ${key} and kind = 'dunning' and status in ('queued', 'sent') and created_at > ${since.toISOString()}::timestamptz
    order by created_at desc limit ${cap.max}`);
  if (rows.length < cap.max) return undefined;
  // The max-th newest leaves the window first among those that keep it full.
  return new Date(new Date(rows[rows.length - 1]!.at).getTime() + perMs + 1000);
}

/**
 * The step's late fee as an item of the plan: an invoice of kind late_fee named after the step,
 * once per plan and step (its number is unique on the account), however often the step retries.
 * A percentage is of what the plan's invoices (not its fees) still owe. Dated like the earliest
 * open invoice, so paying that one does not move the steps ahead.
 */
async function addLateFee(tx: Queries, input: { plan: NonNullable<Awaited<ReturnType<typeof loadPlanContext>>>; stepKey: string; fee: LateFee }) {
  const { plan } = input;
  const owedOnInvoices = plan.invoices.filter((i) => i.kind !== 'late_fee').reduce((sum, i) => sum + i.openMinor, 0);
  const amountMinor = lateFeeMinor(input.fee, owedOnInvoices);
  const earliest = plan.invoices[0];
  if (amountMinor <= 0 || !earliest) return { added: false, amountMinor: 0 };
  const number = `Late fee: ${words(input.stepKey)} (${plan.planId})`;
  // An earlier attempt of this step added it already: the same fee, whatever is owed now.
  const [earlier] = await tx.execute<{ amountMinor: number }>(
    sql`select amount_minor::float8 as "amountMinor" from invoices where account_id = ${plan.accountId} and number = ${number}`,
  );
  if (earlier) return { added: false, amountMinor: earlier.amountMinor };
  const added = await tx.execute<{ id: string }>(sql`
    with fee as (
      insert into invoices (account_id, number, amount_minor, open_minor, currency, issued_on, due_on, kind)
      values (${plan.accountId}, ${number}, ${amountMinor}, ${amountMinor}, ${plan.currency}, ${earliest.dueOn}, ${earliest.dueOn}, 'late_fee')
      on conflict (account_id, number) do nothing
      returning id
    )
    insert into collection_plan_items (plan_id, invoice_id) select ${plan.planId}, id from fee returning invoice_id as id`);
  return { added: added.length > 0, amountMinor };
}
