// End to end through the `dunning` CLI as a user runs it, on the real dev server and the real
// PostgreSQL, with a policy in seconds: import → initiate (twice) → emails → escalation task →
// payment → resolved. Bad input: one sentence, non-zero exit, nothing written.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { planStatus } from '../client/status';
import type { DunningPolicy } from '../workflows/domain/policy';
import { workflowIdFor } from '../workflows/messages';
import { runDunning } from './engine-process';
import { eventually, outboxFor, secondsPolicy } from './fixtures';
import { cliEnv, startTestStack, type TestStack } from './support';

let stack: TestStack;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  stack = await startTestStack('cli');
  dir = stack.config.dataDir;
  env = cliEnv(stack);
});
afterAll(async () => {
  await stack?.close();
});

const dunning = (...args: string[]) => runDunning(args, env);

async function json<T>(...args: string[]): Promise<T> {
  const r = await dunning(...args, '--json');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/**
 * Every row this test's input could have touched (other suites write to the same db at the
 * same time, so whole-table counts would not do): "writes nothing" means this does not move.
 */
async function footprint(acct: string, planId: string): Promise<Record<string, number>> {
  const like = `${acct}%`;
  const [row] = await stack.db.db.execute<Record<string, number>>(sql`select
    (select count(*)::int from accounts where id like ${like}) as accounts,
    (select count(*)::int from contacts where account_id like ${like}) as contacts,
    (select count(*)::int from invoices where account_id like ${like}) as invoices,
    (select count(*)::int from collection_plans where account_id like ${like}) as plans,
    (select count(*)::int from collection_plan_items where plan_id = ${planId}) as items,
    (select count(*)::int from payments where plan_id = ${planId} or id = 'x1') as payments,
    (select coalesce(sum(open_minor), 0)::int from invoices where account_id like ${like}) as open_minor,
    (select count(*)::int from orchestration_steps where plan_id = ${planId}) as steps,
    (select count(*)::int from timeline_events where plan_id = ${planId}) as timeline,
    (select count(*)::int from dunning_policies where name = 'no-such-policy') as policies`);
  return row!;
}

/** Sets a policy through the CLI; returns its name. */
async function setPolicy(policy: DunningPolicy): Promise<string> {
  const file = path.join(dir, `${policy.name}.json`);
  writeFileSync(file, JSON.stringify(policy));
  expect((await dunning('policy', 'set', file)).code).toBe(0);
  return policy.name;
}

/** A policy in seconds, set through the CLI: notice now, reminders at 3 s and 6 s, task at 9 s. */
function fastPolicy(): Promise<string> {
  const name = `e2e-${randomUUID().slice(0, 6)}`;
  return setPolicy(secondsPolicy(name, { upcoming_notice: 0, first_reminder: 3, second_reminder: 6, manual_escalation: 9 }, { maxPromises: 1, promiseGrace: 'PT2S' }));
}

const columns = 'account_id,account_name,contact_name,contact_email,timezone,currency,invoice_number,amount,issued_on,due_on,email_consent';

function csv(lines: string[], header = columns): string {
  const file = path.join(dir, `import-${randomUUID().slice(0, 8)}.csv`);
  writeFileSync(file, [header, ...lines].join('\n'));
  return file;
}

/** Imports one account's invoices through the CLI; returns the new plan's id. */
async function importPlan(lines: string[], header = columns): Promise<string> {
  const imported = await json<{ plans: Array<{ planId: string }> }>('import', csv(lines, header));
  return imported.plans[0]!.planId;
}

interface StatusJson {
  status: string;
  outstandingMinor: number;
  steps: Array<{ key: string; status: string; completedAt: string | null; reason: string | null }>;
  tasks: Array<{ id: string; kind: string; status: string; outcome: string | null }>;
  timeline: Array<{ at: string; kind: string; summary: string }>;
}

describe('the dunning CLI, end to end', () => {
  it('imports, initiates once, emails, escalates, takes a payment and resolves', async () => {
    const acct = `E2E-${randomUUID().slice(0, 6)}`;
    const file = csv([
      `${acct},Initech LLC,Peter Gibbons,peter@initech.example,Etc/UTC,USD,${acct}-1,1200.00,2026-09-01,2026-10-01,`,
      `${acct},Initech LLC,Peter Gibbons,peter@initech.example,Etc/UTC,USD,${acct}-2,34.56,2026-09-15,2026-10-15,opted_in`,
    ]);
    const imported = await json<{ plans: Array<{ planId: string; created: boolean; items: number }> }>('import', file);
    expect(imported.plans).toMatchObject([{ created: true, items: 2 }]);
    const planId = imported.plans[0]!.planId;
    const again = await json<{ invoicesAdded: number; plans: Array<{ planId: string; created: boolean }> }>('import', file);
    expect(again).toMatchObject({ invoicesAdded: 0, plans: [{ planId, created: false }] });

    // A big file's human summary lists the first 20 plans and points at the rest.
    const many = await dunning('import', csv(Array.from({ length: 25 }, (_, i) => `${acct}-M${i},Many ${i},M,m${i}@many.example,Etc/UTC,USD,M-${i},10.00,2026-09-01,2026-10-01,`)));
    expect(many.code).toBe(0);
    const lines = many.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Imported 25 row\(s\) in \d+\.\d s: 25 account\(s\), 25 new invoice\(s\), 25 open plan\(s\)\.$/);
    expect(lines.slice(1, 21).every((l) => l.includes('(new plan)'))).toBe(true);
    expect(lines.slice(21)).toEqual(['… and 5 more; `dunning list` shows them all.']);

    const policyName = await fastPolicy();
    // Every step of this policy is anchored on "now" (0, 3, 6, 9 s) and it has no send window:
    // each runs its offset after the moment the command ran.
    const before = Date.now();
    const preview = await json<{ steps: Array<{ key: string; sendAt: string }> }>('preview', planId, '--policy', policyName);
    const after = Date.now();
    expect(preview.steps.map((s) => s.key)).toEqual(['upcoming_notice', 'first_reminder', 'second_reminder', 'manual_escalation']);
    preview.steps.forEach((step, i) => {
      expect(Date.parse(step.sendAt), step.key).toBeGreaterThanOrEqual(before + i * 3000);
      expect(Date.parse(step.sendAt), step.key).toBeLessThanOrEqual(after + i * 3000);
    });

    const first = await json<{ workflowId: string; runId: string; alreadyRunning: boolean }>('initiate', planId, '--policy', policyName);
    const second = await json<{ workflowId: string; runId: string; alreadyRunning: boolean }>('initiate', planId, '--policy', policyName);
    expect(first).toMatchObject({ workflowId: `dunning-${planId}`, alreadyRunning: false });
    expect(second).toMatchObject({ workflowId: first.workflowId, runId: first.runId, alreadyRunning: true });

    await eventually(async () => {
      const s = await planStatus({ db: stack.db.db }, { planId });
      return s.steps.find((x) => x.key === 'manual_escalation')?.status === 'completed' ? s : undefined;
    }, 'the escalation step', 60_000);
    const emails = outboxFor(stack.outboxDir, planId);
    expect(emails).toHaveLength(3);
    const reminder = readFileSync(path.join(stack.outboxDir, `${planId}_first_reminder.eml`), 'utf8');
    expect(reminder).toMatch(/^To: Peter Gibbons <peter@initech\.example>$/m);
    expect(reminder).toMatch(/^Subject: Reminder: \$1,234\.56 overdue for Initech LLC$/m);
    const text = Buffer.from(reminder.split('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n')[1]!.split('\r\n--')[0]!, 'base64').toString();
    expect(text).toContain(`Invoice ${acct}-1`);
    expect(text).toContain('$1,200.00');
    expect(text).toContain('$34.56');

    const escalated = await json<{ status: string; tasks: Array<{ id: string; kind: string; status: string }> }>('status', planId);
    expect(escalated.status).toBe('escalated');
    expect(escalated.tasks).toMatchObject([{ kind: 'manual_escalation', status: 'open' }]);

    const paid = await dunning('payment', planId, '--payment-id', `pay-${acct}`, '--amount', '1234.56');
    expect(paid.code).toBe(0);
    const status = await eventually(async () => {
      const s = await json<Record<string, unknown>>('status', planId);
      const receipted = (s.timeline as Array<{ kind: string }>).at(-1)?.kind === 'email_sent';
      return s.status === 'resolved' && receipted ? s : undefined;
    }, 'the plan to resolve and the receipt to go out', 30_000);

    // The contract of `status --json`.
    expect(status).toMatchObject({ planId, workflowId: `dunning-${planId}`, status: 'resolved', currency: 'USD', outstandingMinor: 0 });
    const steps = status.steps as Array<Record<string, unknown>>;
    expect(Object.keys(steps[0]!)).toEqual(expect.arrayContaining(['key', 'action', 'status', 'scheduledFor', 'completedAt', 'reason']));
    expect(status.promises).toEqual([]);
    const tasks = status.tasks as Array<Record<string, unknown>>;
    expect(tasks[0]).toMatchObject({ id: expect.any(String), kind: 'manual_escalation', status: 'cancelled' });
    const timeline = status.timeline as Array<{ at: string; kind: string; summary: string }>;
    expect(timeline.map((e) => e.kind)).toEqual(['initiated', 'email_sent', 'email_sent', 'email_sent', 'task_created', 'step', 'payment', 'resolved', 'email_sent']);
    expect(timeline.at(-1)!.summary).toMatch(/^payment receipt: "Payment received: \$1,234\.56 — thank you" sent to peter@initech\.example$/);
    expect(timeline.find((e) => e.kind === 'payment')!.summary).toContain('$1,234.56');

    const human = await dunning('status', planId);
    expect(human.stdout).toContain(`Plan ${planId} (Initech LLC, account ${acct}) — resolved, $0.00 owed`);
    const listed = await json<{ data: Array<{ planId: string; status: string; outstandingMinor: number }>; nextCursor: string | null }>(
      'list', '--status', 'resolved', '--account', acct,
    );
    expect(listed).toEqual({ data: [expect.objectContaining({ planId, status: 'resolved', outstandingMinor: 0 })], nextCursor: null });
  });

  it('refuses bad input with one sentence and a non-zero exit, writing nothing', async () => {
    const acct = `BAD-${randomUUID().slice(0, 6)}`;
    const good = await json<{ plans: Array<{ planId: string }> }>(
      'import',
      csv([`${acct},Bad Co,Bo,bo@bad.example,Europe/Paris,EUR,${acct}-1,10.00,2026-09-01,2026-10-01,`]),
    );
    const planId = good.plans[0]!.planId;
    const before = await footprint(acct, planId);
    expect(before).toMatchObject({ accounts: 1, invoices: 1, plans: 1, payments: 0 });

    const cases: Array<[string[], RegExp]> = [
      [['status', 'no-such-plan'], /^Unknown plan "no-such-plan"\.$/],
      [['initiate', 'no-such-plan'], /^Unknown plan "no-such-plan"\.$/],
      [['initiate', planId, '--policy', 'no-such-policy'], /^Unknown policy "no-such-policy"; see `dunning policy list`\.$/],
      [['payment', planId, '--payment-id', 'x1', '--amount', '-5'], /^--amount "-5" is negative\.$/],
      [['payment', planId, '--payment-id', 'x1', '--amount', 'ten'], /^--amount "ten" is not a decimal number like 120\.50\.$/],
      [['payment', planId, '--payment-id', 'x1', '--amount', '1.005'], /more than 2 decimal places for EUR/],
      [['payment', planId, '--amount', '5'], /^--payment-id is required\.$/],
      [['payment', 'no-such-plan', '--payment-id', 'x1', '--amount', '5'], /^Unknown plan "no-such-plan"\.$/],
      [['pause', planId, '--reason', 'x'], /has no running journey/],
      [['pause', planId, '--reason', 'x', '--until', 'someday'], /^--until "someday" is not a date \(YYYY-MM-DD\) or a date-time with an offset/],
      [['import', csv([`${acct}-2,Bad Two,Bo,bo@bad.example,Europe/Paris,EUR,B2-1,10.00,2026-09-01,2026-10-01,`, `${acct}-3,Bad Three,Bo,not-an-email,Europe/Paris,EUR,B3-1,10.00,2026-09-01,2026-10-01,`])], /^Line 3: contact_email is not an email address\.$/],
      [['import', csv([`${acct}-4,X,Bo,bo@bad.example,Mars/Olympus,EUR,B4-1,10.00,2026-09-01,2026-10-01,`])], /^Line 2: timezone is not an IANA time zone/],
      [['import', csv([`${acct}-5,X,Bo,bo@bad.example,Europe/Paris,EUR,B5-1,-3.00,2026-09-01,2026-10-01,`])], /^Line 2: amount "-3\.00" is negative\.$/],
      [['import', csv([`${acct}-6,X,Bo,bo@bad.example,Europe/Paris,EUR,B6-1,3.00,2026-02-30,2026-10-01,`])], /^Line 2: issued_on is not a real date/],
      [['import', csv([`${acct}-7,X,Bo,bo@bad.example,Europe/Paris,XYZ,B7-1,3.00,2026-02-01,2026-10-01,`])], /^Line 2: currency is not an ISO 4217 code/],
      [['import', path.join(dir, 'missing.csv')], /^Cannot read /],
      [['frobnicate'], /^Unknown command "frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const r = await dunning(...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr.trim(), args.join(' ')).toMatch(message);
    }
    expect(await footprint(acct, planId)).toEqual(before);
  });

  it('records promises from the CLI: a broken one escalates, a kept one resolves, refusals change nothing', async () => {
    const acct = `PRM-${randomUUID().slice(0, 6)}`;
    const imported = await json<{ plans: Array<{ planId: string }> }>(
      'import',
      csv([
        `${acct}-A,Umbrella Corp,Alice,alice@umbrella.example,Etc/UTC,USD,${acct}-A1,500.00,2026-09-01,2026-10-01,`,
        `${acct}-B,Wayne Enterprises,Bruce,bruce@wayne.example,Etc/UTC,USD,${acct}-B1,300.00,2026-09-01,2026-10-01,`,
      ]),
    );
    const [broken, kept] = imported.plans.map((p) => p.planId) as [string, string];
    const policyName = await fastPolicy();
    for (const planId of [broken, kept]) await json('initiate', planId, '--policy', policyName);
    const soon = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

    // Refusals: one sentence with the reason, and the plan unchanged.
    const refusals: Array<[string[], RegExp]> = [
      [['--amount', '100', '--date', '2020-01-01'], /^The promised date must be in the future\.$/],
      [['--amount', '900', '--date', soon(30)], /^The promised amount is more than the 500\.00 USD owed\.$/],
      [['--amount', '-3', '--date', soon(30)], /^--amount "-3" is negative\.$/],
      [['--amount', '100', '--date', '2026-13-40'], /^--date "2026-13-40" is not a real date\.$/],
      [['--amount', '100'], /^--date is required\.$/],
    ];
    for (const [flags, message] of refusals) {
      const r = await dunning('promise', broken, ...flags);
      expect(r.code, flags.join(' ')).not.toBe(0);
      expect(r.stderr.trim(), flags.join(' ')).toMatch(message);
    }
    // A pause the plan refuses: the sentence test/http-routes.test.ts expects from the API.
    const pastPause = await dunning('pause', broken, '--reason', 'dispute', '--until', '2020-01-01');
    expect(pastPause.code).not.toBe(0);
    expect(pastPause.stderr.trim()).toBe('The pause end date must be in the future.');
    const after = await planStatus({ db: stack.db.db }, { planId: broken });
    expect(after.promises).toEqual([]);
    expect(after.timeline.map((e) => e.kind)).not.toContain('paused');
    expect(after.timeline.map((e) => e.kind)).not.toContain('promise_made'); // the journey moves on; no promise was recorded

    // Seconds away, with room for a CLI start on a busy machine.
    const made = await json<{ promiseId: string; status: string }>('promise', broken, '--amount', '200', '--date', soon(20), '--rep', 'Rita');
    expect(made.status).toBe('promised');
    const overLimit = await dunning('promise', broken, '--amount', '100', '--date', soon(40));
    expect(overLimit.stderr.trim()).toMatch(/^Promise .* is still open\.$/);
    const brokenStatus = await eventually(async () => {
      const s = await planStatus({ db: stack.db.db }, { planId: broken });
      return s.promises[0]?.status === 'broken' ? s : undefined;
    }, 'the promise to break', 60_000);
    expect(brokenStatus.status).toBe('escalated');
    expect(brokenStatus.tasks.map((t) => t.kind)).toContain('promise_broken');
    const limit = await dunning('promise', broken, '--amount', '100', '--date', soon(40));
    expect(limit.stderr.trim()).toBe('The plan has reached its limit of 1 promise.');

    await json('promise', kept, '--schedule', `${soon(30)}=100,${soon(50)}=200`);
    await dunning('payment', kept, '--payment-id', `pay-${acct}-B`, '--amount', '300');
    const keptStatus = await eventually(async () => {
      const s = await json<{ status: string; promises: Array<{ status: string; schedule: Array<{ status: string }> }> }>('status', kept);
      return s.status === 'resolved' ? s : undefined;
    }, 'the kept promise to resolve the plan', 60_000);
    expect(keptStatus.promises).toMatchObject([{ status: 'kept', schedule: [{ status: 'kept' }, { status: 'kept' }] }]);
  });
  it('previews the dates a user sees: due-anchored steps in the account time zone, across DST, inside the send window', async () => {
    const acct = `PRV-${randomUUID().slice(0, 6)}`;
    // Due 2026-10-01 in New York. The `due` anchor is 09:00 local that day: EDT (UTC-4), 13:00Z.
    const planId = await importPlan([
      `${acct},Hooli,Gavin,gavin@hooli.example,America/New_York,USD,${acct}-1,500.00,2026-09-01,2026-10-01,`,
      `${acct},Hooli,Gavin,gavin@hooli.example,America/New_York,USD,${acct}-2,250.00,2026-09-10,2026-10-20,`,
    ]);
    const policy = await setPolicy({
      name: `preview-${randomUUID().slice(0, 6)}`,
      steps: [
        { key: 'pre_due', action: 'email', template: 'upcoming-invoices', at: '-P3D', from: 'due' },
        { key: 'call', action: 'task', at: 'PT30H', from: 'due' },
        { key: 'first_reminder', action: 'email', template: 'first-reminder', at: 'P3D', from: 'due' },
        { key: 'late_reminder', action: 'email', template: 'second-reminder', at: 'P40D', from: 'due' },
      ],
      maxPromises: 1,
      promiseGrace: 'P2D',
      sendWindow: { from: '10:00', to: '17:00' },
    });
    // Worked out by hand from the due date, the zone and the offsets:
    const expected = [
      // 2026-09-28 09:00 EDT; the window opens at 10:00 EDT.
      { key: 'pre_due', scheduledFor: '2026-09-28T13:00:00.000Z', sendAt: '2026-09-28T14:00:00.000Z' },
      // 30 hours after 2026-10-01 13:00Z; a task waits for no window.
      { key: 'call', scheduledFor: '2026-10-02T19:00:00.000Z', sendAt: '2026-10-02T19:00:00.000Z' },
      // 2026-10-04 09:00 EDT, sent at 10:00 EDT.
      { key: 'first_reminder', scheduledFor: '2026-10-04T13:00:00.000Z', sendAt: '2026-10-04T14:00:00.000Z' },
      // 40 calendar days on: 2026-11-10 09:00 local, after DST ended on 2026-11-01, so EST (UTC-5).
      { key: 'late_reminder', scheduledFor: '2026-11-10T14:00:00.000Z', sendAt: '2026-11-10T15:00:00.000Z' },
    ];
    const preview = await json<{ dueOn: string; timeZone: string; steps: Array<{ key: string; scheduledFor: string; sendAt: string }> }>(
      'preview',
      planId,
      '--policy',
      policy,
    );
    expect(preview).toMatchObject({ dueOn: '2026-10-01', timeZone: 'America/New_York' });
    expect(preview.steps.map(({ key, scheduledFor, sendAt }) => ({ key, scheduledFor, sendAt }))).toEqual(expected);

    const human = (await dunning('preview', planId, '--policy', policy)).stdout.split('\n');
    expect(human[0]).toBe(`Preview of plan ${planId} under policy "${policy}" (if initiated now; earliest due 2026-10-01, America/New_York; $750.00 owed):`);
    expect(human.slice(2, 6).map((line) => line.split(/\s{2,}/))).toEqual([
      ['pre_due', 'email', 'due', '-P3D', '2026-09-28 14:00 UTC'],
      ['call', 'task', 'due', 'PT30H', '2026-10-02 19:00 UTC'],
      ['first_reminder', 'email', 'due', 'P3D', '2026-10-04 14:00 UTC'],
      ['late_reminder', 'email', 'due', 'P40D', '2026-11-10 15:00 UTC'],
    ]);
  });

  it('writes money as the account does, not always en-US', async () => {
    const acct = `LOC-${randomUUID().slice(0, 6)}`;
    const planId = await importPlan(
      [`${acct},Müller GmbH,Jana Müller,jana@mueller.example,Europe/Berlin,EUR,${acct}-1,1234.56,2026-09-01,2026-10-01,,de-DE`],
      `${columns},locale`,
    );
    const nbsp = '\u00a0'; // de-DE puts a no-break space before the sign
    const status = await dunning('status', planId);
    expect(status.stdout).toContain(`Plan ${planId} (Müller GmbH, account ${acct}) — not_started, 1.234,56${nbsp}€ owed`);
    const preview = await dunning('preview', planId);
    expect(preview.stdout.split('\n')[0]).toContain(`; 1.234,56${nbsp}€ owed):`);
    const paid = await dunning('payment', planId, '--payment-id', `${acct}-p1`, '--amount', '1000');
    expect(paid.stdout.trim()).toBe(`Payment ${acct}-p1 of 1.000,00${nbsp}€ reported for plan ${planId} (no running journey: recorded directly).`);
    expect((await dunning('status', planId)).stdout).toContain(`— not_started, 234,56${nbsp}€ owed`);

    // The email preview is built from the plan as the journey's own sends are.
    const file = path.join(dir, `${acct}-first-reminder.html`);
    const email = await json<{ file: string; subject: string }>('template', 'preview', 'first-reminder', planId, '--out', file);
    expect(email).toEqual({ file, subject: `Reminder: 234,56${nbsp}€ overdue for Müller GmbH` });
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<p>Dear Jana Müller,</p>');
    expect(html).toMatch(/href="mailto:billing@dunning\.local\?subject=opt-out%20[0-9a-f-]{36}"/);
  });

  it('records a payment for a plan that was never initiated on its timeline, and resolves it once nothing is owed', async () => {
    const acct = `NOJ-${randomUUID().slice(0, 6)}`;
    const planId = await importPlan([`${acct},Globex,Hank,hank@globex.example,Etc/UTC,USD,${acct}-1,100.00,2026-09-01,2026-10-01,`]);

    const partial = await json<{ delivered: string }>('payment', planId, '--payment-id', `${acct}-p1`, '--amount', '40');
    expect(partial.delivered).toBe('database');
    const afterPartial = await json<StatusJson>('status', planId);
    expect(afterPartial).toMatchObject({ status: 'not_started', outstandingMinor: 6_000 });
    expect(afterPartial.timeline).toMatchObject([{ kind: 'payment', summary: `Payment ${acct}-p1 of $40.00 received; $60.00 still owed` }]);

    // The billing system reports the same payment again: nothing changes.
    await json('payment', planId, '--payment-id', `${acct}-p1`, '--amount', '40');
    expect(await json<StatusJson>('status', planId)).toEqual(afterPartial);

    await json('payment', planId, '--payment-id', `${acct}-p2`, '--amount', '60');
    const paid = await json<StatusJson>('status', planId);
    expect(paid).toMatchObject({ status: 'resolved', outstandingMinor: 0 });
    expect(paid.timeline.map(({ kind, summary }) => ({ kind, summary }))).toEqual([
      { kind: 'payment', summary: `Payment ${acct}-p1 of $40.00 received; $60.00 still owed` },
      { kind: 'payment', summary: `Payment ${acct}-p2 of $60.00 received; $0.00 still owed` },
      { kind: 'resolved', summary: 'Plan resolved: paid in full' },
    ]);
    expect((await dunning('list', '--status', 'resolved', '--account', acct, '--json')).stdout).toContain(planId);
  });

  it('keeps a payment reported before initiation first on the timeline once the journey begins', async () => {
    const acct = `PRE-${randomUUID().slice(0, 6)}`;
    const planId = await importPlan([`${acct},Initech,Bill,bill@initech.example,Etc/UTC,USD,${acct}-1,100.00,2026-09-01,2026-10-01,`]);
    expect(await json<{ delivered: string }>('payment', planId, '--payment-id', `${acct}-p1`, '--amount', '40')).toMatchObject({ delivered: 'database' });
    const policy = await setPolicy(secondsPolicy(`pre-${randomUUID().slice(0, 6)}`, { upcoming_notice: 3600 }));
    await json('initiate', planId, '--policy', policy);
    const s = await eventually(async () => {
      const view = await json<StatusJson>('status', planId);
      return view.timeline.some((e) => e.kind === 'initiated') ? view : undefined;
    }, 'the journey to record its start', 30_000);
    expect(s.timeline.map((e) => e.kind)).toEqual(['payment', 'initiated']);
    // The journey numbers its entries after the payment's, never from 1 again.
    const seqs = await stack.db.db.execute<{ kind: string; seq: number }>(sql`select kind, seq from timeline_events where plan_id = ${planId} order by seq`);
    expect(seqs.map((r) => [r.kind, r.seq])).toEqual([['payment', 1], ['initiated', 2]]);
  });

  it('leaves a plan whose journey ended early as the journey would when a payment clears it, and reports the policy a running plan runs under', async () => {
    const acct = `END-${randomUUID().slice(0, 6)}`;
    const planId = await importPlan([`${acct},Soylent,Sol,sol@soylent.example,Etc/UTC,USD,${acct}-1,80.00,2026-09-01,2026-10-01,`]);
    // A task at once, an email an hour later: the journey waits with a task open and a step ahead.
    const policy = await setPolicy(secondsPolicy(`ends-${randomUUID().slice(0, 6)}`, { manual_escalation: 0, first_reminder: 3600 }));
    expect(await json('initiate', planId, '--policy', policy)).toMatchObject({ alreadyRunning: false, policy });
    // Initiating again without --policy finds the journey: it runs under `policy`, not `standard`.
    expect(await json('initiate', planId)).toMatchObject({ alreadyRunning: true, policy });

    await eventually(async () => {
      const s = await json<StatusJson>('status', planId);
      return s.tasks[0]?.status === 'open' && s.steps.find((x) => x.key === 'first_reminder')?.status === 'waiting' ? s : undefined;
    }, 'the task to open and the reminder to wait', 30_000);
    // Ops end the run by hand (say, a stuck workflow): the db still shows the plan under way.
    await stack.client.workflow.getHandle(workflowIdFor(planId)).terminate('test: the journey ends without closing the plan');

    const paid = await json<{ delivered: string }>('payment', planId, '--payment-id', `${acct}-p1`, '--amount', '80');
    expect(paid.delivered).toBe('database');
    const s = await json<StatusJson>('status', planId);
    expect(s).toMatchObject({ status: 'resolved', outstandingMinor: 0 });
    expect(s.steps.find((x) => x.key === 'first_reminder')).toMatchObject({ status: 'skipped', reason: 'nothing owed', completedAt: expect.any(String) });
    expect(s.steps.find((x) => x.key === 'manual_escalation')).toMatchObject({ status: 'completed' });
    expect(s.tasks).toMatchObject([{ kind: 'manual_escalation', status: 'cancelled', outcome: 'plan resolved' }]);
    expect(s.timeline.slice(-2).map((e) => e.kind)).toEqual(['payment', 'resolved']);
    const seqs = await stack.db.db.execute<{ seq: number }>(sql`select seq from timeline_events where plan_id = ${planId} order by seq`);
    expect(new Set(seqs.map((r) => r.seq)).size).toBe(seqs.length); // each entry its own place in the order
  });

  it('creates an API key shown once, lists it without its secret, revokes it, and refuses a bad role or id with one sentence', async () => {
    const name = `ledger ${randomUUID().slice(0, 6)}`;
    const created = await json<{ id: string; name: string; role: string; key: string }>('apikey', 'create', '--role', 'billing', '--name', name);
    expect(created).toMatchObject({ name, role: 'billing' });
    expect(created.key).toMatch(new RegExp(`^dunning_${created.id}_[A-Za-z0-9_-]{43}$`));
    const human = await dunning('apikey', 'create', '--role', 'rep', '--name', `${name} rep`);
    expect(human.stdout).toMatch(/shown only now/);

    const listed = await json<Array<Record<string, unknown>>>('apikey', 'list');
    const row = listed.find((k) => k.id === created.id);
    expect(row).toMatchObject({ name, role: 'billing', revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(created.key.split('_').pop()!); // the secret is never shown again

    const revoked = await dunning('apikey', 'revoke', created.id);
    expect(revoked.stdout.trim()).toBe(`API key ${created.id} ("${name}") is revoked; requests with it are refused from now on.`);
    expect((await json<Array<{ id: string; revokedAt: string | null }>>('apikey', 'list')).find((k) => k.id === created.id)?.revokedAt).not.toBeNull();

    const badRole = await dunning('apikey', 'create', '--role', 'admin', '--name', 'x');
    expect([badRole.code, badRole.stderr.trim()]).toEqual([1, 'The role must be one of billing, rep, ops, not "admin".']);
    const unknown = await dunning('apikey', 'revoke', '0123456789abcdef');
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'Unknown API key "0123456789abcdef"; see `dunning apikey list`.']);
    const noName = await dunning('apikey', 'create', '--role', 'ops');
    expect([noName.code, noName.stderr.trim()]).toEqual([1, '--name is required.']);
  });
});
