// Activities alone, in the SDK's MockActivityEnvironment (no worker, no Temporal server), against
// the run's real PostgreSQL and the real outbox mailer in a temp dir. The mailer is wrapped to
// count send() calls: the outbox names files by idempotency key, so a second delivery would
// overwrite the first file and only the count can show it.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { eq } from 'drizzle-orm';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { createOutboxMailer, type Mailer } from '../../activities/mail';
import { connectDatabase, type DatabaseHandle } from '../../db/connection';
import { collectionPlans, contacts, emailMessages } from '../../db/schema';
import { standardPolicy } from '../../workflows/domain/policy';
import type { PromiseState } from '../../workflows/messages';
import { planStatus } from '../../client/status';
import { createPlan, outboxFor } from '../fixtures';
import { testConfig } from '../support';

type Activities = ReturnType<typeof createActivities>;
type EmailInput = Parameters<Activities['sendStepEmail']>[0];
type OutgoingEmail = Parameters<Mailer['send']>[0];

const NY = 'America/New_York';
const daytime = { from: '08:00', to: '21:00' };
// Sat 2026-12-12 12:00 EST (UTC-5): inside the window in New York.
const noonInNewYork = '2026-12-12T17:00:00.000Z';

let db: DatabaseHandle;
let activities: Activities;
let outboxDir: string;
const sent: OutgoingEmail[] = [];
// One environment, as the sample does; ERROR keeps the expected failures' WARN lines out of the test output.
const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
/** env.run keeping the activity's result type (the SDK's signature cannot infer it from the function). */
const run = <A extends (...args: never[]) => Promise<unknown>>(fn: A, ...args: Parameters<A>) => env.run(fn, ...args) as ReturnType<A>;

beforeAll(() => {
  db = connectDatabase(inject('databaseUrl'), { max: 2 });
  const config = testConfig('unit-activities');
  outboxDir = path.join(config.dataDir, 'outbox');
  const outbox = createOutboxMailer(outboxDir);
  const mailer: Mailer = {
    send(email) {
      sent.push(email);
      return outbox.send(email);
    },
  };
  const deps: ActivityDeps = { db: db.db, mailer, clock: { now: () => new Date() }, config };
  activities = createActivities(deps);
});
afterAll(async () => {
  await db?.close();
});

/** A New York plan owing $120.50, with an opted-in contact unless told otherwise. */
function newYorkPlan(opts: { consent?: 'opted_in' | 'opted_out' } = {}) {
  return createPlan(db.db, {
    invoices: [{ amountMinor: 12_050, dueOn: '2026-12-08' }],
    timezone: NY,
    locale: 'en-US',
    accountName: 'Acme Anvils Ltd',
    consent: opts.consent,
  });
}

const reminder = (planId: string, extra: Partial<EmailInput> = {}): EmailInput => ({
  planId,
  stepKey: 'first_reminder',
  template: 'first-reminder',
  sendWindow: daytime,
  at: noonInNewYork,
  ...extra,
});

const sendsFor = (planId: string) => sent.filter((e) => e.idempotencyKey.startsWith(`${planId}:`));
const ledger = (planId: string) => db.db.select().from(emailMessages).where(eq(emailMessages.planId, planId));

describe('sendStepEmail', () => {
  it('sends once; a second call answers from the ledger without a second message', async () => {
    const { planId, accountId } = await newYorkPlan();
    const first = await run(activities.sendStepEmail, reminder(planId));
    expect(first).toEqual({
      outcome: 'sent',
      to: `pat+${accountId}@example.com`,
      subject: 'Reminder: $120.50 overdue for Acme Anvils Ltd',
      outstandingMinor: 12_050,
    });
    expect(sendsFor(planId).map((e) => e.idempotencyKey)).toEqual([`${planId}:first_reminder`]);
    expect(outboxFor(outboxDir, planId)).toEqual([`${planId}_first_reminder.eml`]);
    expect(await ledger(planId)).toMatchObject([{ status: 'sent', provider: 'outbox', stepKey: 'first_reminder' }]);

    // A retry (say the worker died after the send): same answer, no second send().
    const again = await run(activities.sendStepEmail, reminder(planId));
    expect(again).toEqual(first);
    expect(sendsFor(planId)).toHaveLength(1);
  });

  it('sends nothing when nothing is owed any more (payment re-read at the moment of sending)', async () => {
    const { planId } = await newYorkPlan();
    await run(activities.recordPayment, { planId, paymentId: `pay-${randomUUID()}`, amountMinor: 12_050, receivedAt: noonInNewYork });
    expect(await run(activities.sendStepEmail, reminder(planId))).toEqual({ outcome: 'nothing_owed', outstandingMinor: 0 });
    expect(sendsFor(planId)).toEqual([]);
  });

  it('sends no dunning email to a contact who opted out', async () => {
    const { planId } = await newYorkPlan({ consent: 'opted_out' });
    expect(await run(activities.sendStepEmail, reminder(planId))).toEqual({ outcome: 'opted_out', outstandingMinor: 12_050 });
    expect(sendsFor(planId)).toEqual([]);
    expect(await ledger(planId)).toEqual([]);
  });

  it('reports a plan whose account has no contact email', async () => {
    const { planId, accountId } = await newYorkPlan();
    await db.db.delete(contacts).where(eq(contacts.accountId, accountId));
    expect(await run(activities.sendStepEmail, reminder(planId))).toEqual({ outcome: 'no_contact', outstandingMinor: 12_050 });
    expect(sendsFor(planId)).toEqual([]);
  });

  it("waits outside the send window until it opens in the recipient's zone", async () => {
    const { planId } = await newYorkPlan();
    // Fri 2026-12-11 22:00 EST is 03:00Z on the 12th; the window opens Sat 08:00 EST = 13:00Z.
    const result = await run(activities.sendStepEmail, reminder(planId, { at: '2026-12-12T03:00:00.000Z' }));
    expect(result).toEqual({ outcome: 'outside_window', retryAt: '2026-12-12T13:00:00.000Z', outstandingMinor: 12_050 });
    expect(sendsFor(planId)).toEqual([]);
    expect(await ledger(planId)).toEqual([]);
  });

  it('refuses an unknown template for good (non-retryable MailRejected), sending nothing', async () => {
    const { planId } = await newYorkPlan();
    const err = await run(activities.sendStepEmail, reminder(planId, { template: 'no-such-template' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'MailRejected', nonRetryable: true, message: 'Unknown email template "no-such-template".' });
    expect(sendsFor(planId)).toEqual([]);
  });

  it('refuses an unknown plan for good (non-retryable UnknownPlan)', async () => {
    const planId = `plan-${randomUUID()}`;
    const err = await run(activities.sendStepEmail, reminder(planId)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'UnknownPlan', nonRetryable: true, message: `Unknown plan "${planId}".` });
  });
});

describe('beginPlan', () => {
  it("returns the policy's schedule in the account's zone, anchored on the earliest due date", async () => {
    const { planId, accountId } = await createPlan(db.db, {
      // Listed later-first: the anchor must be the earliest due date, not the first row.
      invoices: [
        { amountMinor: 5_000, dueOn: '2026-11-05' },
        { amountMinor: 12_050, dueOn: '2026-10-23' },
      ],
      timezone: 'Europe/Berlin',
      currency: 'EUR',
      locale: 'de-DE',
    });
    const initiatedAt = '2026-10-20T10:15:00.000Z';
    const begun = await run(activities.beginPlan, { planId, policy: standardPolicy, initiatedAt });
    // Due Fri 2026-10-23 09:00 CEST (UTC+2) = 07:00Z. Berlin leaves DST on 2026-10-25, so every
    // reminder after it is 09:00 CET (UTC+1) = 08:00Z.
    expect(begun.steps.map((s) => [s.key, s.scheduledFor])).toEqual([
      ['upcoming_notice', initiatedAt], // P0D from initiated
      ['first_reminder', '2026-10-26T08:00:00.000Z'], // due + P3D
      ['second_reminder', '2026-11-02T08:00:00.000Z'], // due + P10D
      ['manual_escalation', '2026-11-12T08:00:00.000Z'], // due + P20D
    ]);
    expect(begun).toMatchObject({ accountId, currency: 'EUR', currencyDigits: 2, outstandingMinor: 17_050, owedDisplay: '170,50\u00a0€' });
    const [plan] = await db.db.select().from(collectionPlans).where(eq(collectionPlans.id, planId));
    expect(plan).toMatchObject({ policyName: 'standard', workflowId: `dunning-${planId}`, initiatedAt: new Date(initiatedAt) });
  });

  it('refuses an unknown plan for good', async () => {
    const err = await run(activities.beginPlan, { planId: `plan-${randomUUID()}`, policy: standardPolicy, initiatedAt: noonInNewYork })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'UnknownPlan', nonRetryable: true });
  });
});

describe('syncPlan and planStatus', () => {
  it('never shows a reader half of a journey write: a broken promise always comes with the escalated plan', async () => {
    const { planId } = await newYorkPlan();
    const promise = (status: 'open' | 'broken'): PromiseState => ({
      id: `${planId}:promise:1`,
      amountMinor: 5_000,
      dueOn: noonInNewYork,
      status,
      createdAt: noonInNewYork,
      paidMinor: 0,
      items: [{ seq: 1, amountMinor: 5_000, dueOn: noonInNewYork, status: status === 'open' ? 'open' : 'cancelled' }],
    });
    const write = (broken: boolean) =>
      run(activities.syncPlan, {
        planId,
        status: broken ? 'escalated' : 'promised',
        outstandingMinor: 12_050,
        steps: [],
        tasks: [],
        promises: [promise(broken ? 'broken' : 'open')],
        events: [],
      });
    await write(false);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 300; i++) await write(i % 2 === 0);
      writing = false;
    })();
    const seen = new Set<string>();
    while (writing) {
      const view = await planStatus({ db: db.db }, { planId });
      seen.add(`${view.status}/${view.promises[0]?.status}`);
    }
    await writer;
    expect([...seen].sort()).toEqual(['escalated/broken', 'promised/open']);
  });

  it('leaves a later sync in place when an earlier one lands after it (a timed-out attempt still running on a slow worker)', async () => {
    const { planId } = await newYorkPlan();
    const step = (status: 'waiting' | 'completed') => ({ key: 'manual_escalation', ordinal: 0, action: 'task' as const, status, scheduledFor: noonInNewYork, ...(status === 'completed' && { completedAt: noonInNewYork }) });
    const sync = (syncedAt: string, escalated: boolean) =>
      run(activities.syncPlan, {
        planId,
        syncedAt,
        status: escalated ? 'escalated' : 'in_progress',
        outstandingMinor: 12_050,
        steps: [step(escalated ? 'completed' : 'waiting')],
        tasks: escalated ? [{ id: `${planId}:task:1`, kind: 'manual_escalation', status: 'open', reason: 'escalated' }] : [],
        events: escalated ? [{ key: 'escalated', seq: 1, kind: 'task_created', summary: 'escalated', at: noonInNewYork }] : [],
      });
    await sync('2026-11-02T17:00:10.000Z', true);
    // The stale attempt's write, from the workflow's earlier time, arrives last.
    await sync('2026-11-02T17:00:00.000Z', false);
    const view = await planStatus({ db: db.db }, { planId });
    expect(view.status).toBe('escalated');
    expect(view.steps.map((s) => s.status)).toEqual(['completed']);
    expect(view.tasks).toHaveLength(1);
    // The same sync again (a retry of it) still writes.
    await sync('2026-11-02T17:00:10.000Z', true);
    expect((await planStatus({ db: db.db }, { planId })).status).toBe('escalated');
  });
});
