// The bad-input catalogue: hostile input through every door (CSV import, policy JSON, update
// arguments, messages to finished plans). Each gets one clear sentence and a refusal, and the
// database is left exactly as it was. (CLI flags and config have their own suites.)
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { cancel, completeTask, DunningError, escalate, initiateDunning, pause, recordPromise, reportPayment, resume } from '../client/dunning';
import type { DunningErrorCode } from '../client/errors';
import { importCsv as importFile } from '../client/import';
import { parsePolicy, PolicyError } from '../db/policies';
import { standardPolicy } from '../workflows/domain/policy';
import { stateQuery, workflowIdFor } from '../workflows/messages';
import { createPlan, dateOffset, eventually, stepOf, waitForPlanState } from './fixtures';
import { startTestStack, type TestStack } from './support';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('bad-input');
});
afterAll(async () => {
  await stack?.close();
});

const header = 'account_id,account_name,contact_name,contact_email,timezone,currency,invoice_number,amount,issued_on,due_on';
const row = (over: Partial<Record<string, string>> = {}) => {
  const r = {
    account_id: 'HOSTILE-1',
    account_name: 'Hostile Ltd',
    contact_name: 'Hal',
    contact_email: 'hal@hostile.example',
    timezone: 'Europe/London',
    currency: 'GBP',
    invoice_number: 'H-1',
    amount: '10.00',
    issued_on: '2026-09-01',
    due_on: '2026-10-01',
    ...over,
  };
  return Object.values(r).join(',');
};

/** Everything an import could write: these counts must not move on a refused file. */
async function importFootprint(): Promise<Record<string, number>> {
  const [r] = await stack.db.db.execute<Record<string, number>>(sql`select
    (select count(*)::int from accounts where id like 'HOSTILE%') as accounts,
    (select count(*)::int from contacts where account_id like 'HOSTILE%') as contacts,
    (select count(*)::int from invoices where account_id like 'HOSTILE%') as invoices,
    (select count(*)::int from collection_plans where account_id like 'HOSTILE%') as plans`);
  return r!;
}

async function importCsv(content: string | Buffer): Promise<void> {
  await importFile(stack.db, { source: content });
}

describe('bad input catalogue', () => {
  it('refuses every hostile CSV with the line and the reason, writing nothing', async () => {
    const before = await importFootprint();
    expect(before.accounts).toBe(0);
    const cases: Array<[string, string | Buffer, RegExp]> = [
      ['missing columns', 'account_id,amount\nA,1', /^The CSV header lacks columns account_name, contact_name/],
      ['no rows', `${header}\n`, /^The CSV has no data rows\.$/],
      ['unbalanced quote', `${header}\n"HOSTILE-1,Hostile`, /^The CSV cannot be read/],
      ['ragged row', `${header}\nHOSTILE-1,Hostile Ltd,Hal`, /^The CSV cannot be read/],
      ['negative amount', `${header}\n${row({ amount: '-10.00' })}`, /^Line 2: amount "-10\.00" is negative\.$/],
      ['zero amount', `${header}\n${row({ amount: '0.00' })}`, /^Line 2: amount must be more than zero\.$/],
      ['huge amount', `${header}\n${row({ amount: '99999999999999999999.00' })}`, /^Line 2: amount "99999999999999999999\.00" is too large\.$/],
      ['too many decimals', `${header}\n${row({ amount: '10.001' })}`, /^Line 2: amount "10\.001" has more than 2 decimal places for GBP\.$/],
      ['decimals in a currency without them', `${header}\n${row({ currency: 'JPY', amount: '10.5' })}`, /more than 0 decimal places for JPY/],
      ['not a number', `${header}\n${row({ amount: '1e5' })}`, /^Line 2: amount "1e5" is not a decimal number/],
      ['thousands separator', `${header}\n${row({ amount: '"1,000.00"' })}`, /^Line 2: amount "1,000\.00" is not a decimal number/],
      ['unknown currency', `${header}\n${row({ currency: 'ABC' })}`, /^Line 2: currency is not an ISO 4217 code/],
      ['invalid time zone', `${header}\n${row({ timezone: 'Europe/Atlantis' })}`, /^Line 2: timezone is not an IANA time zone/],
      ['impossible date', `${header}\n${row({ due_on: '2026-02-30' })}`, /^Line 2: due_on is not a real date/],
      ['due before issue', `${header}\n${row({ due_on: '2026-08-01' })}`, /^Line 2: due_on is before issued_on\.$/],
      ['bad email', `${header}\n${row({ contact_email: 'hal(at)hostile' })}`, /^Line 2: contact_email is not an email address\.$/],
      ['bad consent', `${header},email_consent\n${row()},maybe`, /^Line 2: email_consent must be opted_in or opted_out\.$/],
      [
        'duplicate invoice, different amounts',
        `${header}\n${row()}\n${row({ amount: '11.00' })}`,
        /^Line 3: invoice H-1 appears on line 2 with a different amount or dates\.$/,
      ],
      [
        'one account, two currencies',
        `${header}\n${row()}\n${row({ invoice_number: 'H-2', currency: 'EUR' })}`,
        /^Line 3: account HOSTILE-1 has a different name, time zone or currency than on line 2\.$/,
      ],
      ['NUL character', `${header}\n${row({ account_name: 'Host\u0000ile' })}`, /^Line 2: account_name contains a NUL character\.$/],
      ['not UTF-8', Buffer.concat([Buffer.from(`${header}\n${row({ account_name: 'Hostile ' })}`), Buffer.from([0xff, 0xfe, 0x41])]), /^The CSV is not valid UTF-8 text\.$/],
      ['bad row after 100,000 good ones', hugeFileWithBadLastRow(), /^Line 100002: amount "ten" is not a decimal number/],
    ];
    for (const [name, content, message] of cases) {
      const err = await importCsv(content).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(Error);
      expect((err as Error).message, name).toMatch(message);
      expect((err as Error).message.split('\n'), name).toHaveLength(1);
    }
    expect(await importFootprint()).toEqual(before);
    console.log(`${cases.length} hostile CSV files refused, nothing written`);
  }, 120_000);

  it('refuses a file whose invoice already exists with another amount, writing nothing of it', async () => {
    const id = `HOSTILE-${randomUUID().slice(0, 6)}`;
    await importCsv(`${header}\n${row({ account_id: id })}`);
    const before = await importFootprint();
    const err = await importCsv(`${header}\n${row({ account_id: id, invoice_number: 'H-9' })}\n${row({ account_id: id, amount: '12.00' })}`).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`Line 3: invoice H-1 of account ${id} already exists with a different amount or due date.`);
    expect(await importFootprint()).toEqual(before); // H-9 was not written either
  });

  it('refuses hostile policy JSON naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /^Invalid policy: /],
      [{ ...standardPolicy, name: 'Bad Name!' }, /field "name"/],
      [{ ...standardPolicy, steps: [] }, /field "steps": must have at least one step/],
      [{ ...standardPolicy, steps: [{ ...standardPolicy.steps[0], at: '3 days' }] }, /field "steps\.0\.at": must be an ISO-8601 duration/],
      [{ ...standardPolicy, steps: [{ ...standardPolicy.steps[0], at: 'P1M' }] }, /field "steps\.0\.at"/],
      [{ ...standardPolicy, steps: [{ ...standardPolicy.steps[0], at: 'P99999999D' }] }, /field "steps\.0\.at": must be at most ten years/],
      [{ ...standardPolicy, promiseGrace: '-PT99999999H' }, /field "promiseGrace": must be at most ten years/],
      [{ ...standardPolicy, steps: [{ ...standardPolicy.steps[0], from: 'yesterday' }] }, /field "steps\.0\.from"/],
      [{ ...standardPolicy, steps: [{ ...standardPolicy.steps[0], template: 'nope' }] }, /field "steps\.0\.template": an email step needs a template/],
      [{ ...standardPolicy, steps: [standardPolicy.steps[0], standardPolicy.steps[0]] }, /step keys must be unique/],
      [{ ...standardPolicy, maxPromises: -1 }, /field "maxPromises"/],
      [{ ...standardPolicy, maxPromises: 1.5 }, /field "maxPromises"/],
      [{ ...standardPolicy, sendWindow: { from: '25:00', to: '21:00' } }, /field "sendWindow\.from": must be a 24-hour time/],
      [{ ...standardPolicy, extra: true }, /^Invalid policy/],
    ];
    for (const [input, message] of cases) {
      expect(() => parsePolicy(input)).toThrow(PolicyError);
      expect(() => parsePolicy(input)).toThrow(message);
    }
  });

  it('refuses bad update arguments and messages to finished plans, changing nothing', async () => {
    const ctx = { client: stack.client, db: stack.db.db, config: stack.config };
    const { planId } = await createPlan(stack.db.db, { invoices: [{ amountMinor: 10_000, dueOn: dateOffset(9) }] });
    await initiateDunning(ctx, { planId });
    const idle = await createPlan(stack.db.db, { invoices: [{ amountMinor: 10_000, dueOn: dateOffset(9) }] });
    const far = new Date(Date.now() + 5 * 86_400_000).toISOString();
    const refused: Array<[string, () => Promise<unknown>, RegExp, DunningErrorCode]> = [
      ['unknown plan', () => pause(ctx, { planId: 'no-such-plan', reason: 'x' }), /^Unknown plan "no-such-plan"\.$/, 'unknown_plan'],
      ['a plan never initiated', () => pause(ctx, { planId: idle.planId, reason: 'x' }), /^Plan ".*" has no running journey; start one with `dunning initiate .*`\.$/, 'not_running'],
      ['empty reason', () => pause(ctx, { planId, reason: '' }), /^reason is required\.$/, 'invalid'],
      ['resume a running plan', () => resume(ctx, { planId }), /^The plan is not paused\.$/, 'not_paused'],
      ['unknown task', () => completeTask(ctx, { planId, taskId: 'task-x', outcome: 'done' }), /^The plan has no task "task-x"\.$/, 'unknown_task'],
      ['empty outcome', () => completeTask(ctx, { planId, taskId: 'task-x', outcome: ' ' }), /^outcome is required\.$/, 'invalid'],
      ['promise without a date', () => recordPromise(ctx, { planId, amountMinor: 100 }), /^A promise needs an amount and a date, or installments\.$/, 'promise_refused'],
      ['promise on an invalid date', () => recordPromise(ctx, { planId, amountMinor: 100, dueAt: 'soon' }), /^"soon" is not a date\.$/, 'promise_refused'],
      ['promise of a fraction', () => recordPromise(ctx, { planId, amountMinor: 1.5, dueAt: far }), /^A promised amount must be more than zero\.$/, 'promise_refused'],
      [
        'installments out of order',
        () => recordPromise(ctx, { planId, installments: [{ amountMinor: 100, dueAt: far }, { amountMinor: 100, dueAt: new Date(Date.now() + 86_400_000).toISOString() }] }),
        /^Installment dates must be in order\.$/,
        'promise_refused',
      ],
      [
        'installments not summing to the amount',
        () => recordPromise(ctx, { planId, amountMinor: 500, installments: [{ amountMinor: 100, dueAt: far }] }),
        /^The promised amount must equal the sum of the installments\.$/,
        'promise_refused',
      ],
      ['payment of nothing', () => reportPayment(ctx, { planId, paymentId: 'p0', amountMinor: 0 }), /^The payment amount must be more than zero\.$/, 'invalid'],
      ['payment to a foreign invoice', () => reportPayment(ctx, { planId, paymentId: 'p0', amountMinor: 5, invoiceNumber: 'NOPE' }), /is not an open item of plan/, 'invalid'],
    ];
    // Let the journey settle (notice sent, first reminder waiting) so only refusals could change it.
    const stateBefore = await waitForPlanState(stack.client, planId, (x) => stepOf(x, 'first_reminder').status === 'waiting', 'the journey to settle');
    for (const [name, call, message, code] of refused) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error | undefined)?.message, name).toMatch(message);
      // One code per kind of refusal, from the failure's type (the HTTP API maps it to a status).
      expect(err, name).toBeInstanceOf(DunningError);
      expect((err as DunningError).code, name).toBe(code);
    }
    expect(await stack.client.workflow.getHandle(workflowIdFor(planId)).query(stateQuery)).toEqual(stateBefore);

    await cancel(ctx, { planId, reason: 'closing for the test' });
    await eventually(async () => ((await stack.client.workflow.getHandle(workflowIdFor(planId)).describe()).status.name === 'COMPLETED' ? true : undefined), 'the run to end');
    for (const [name, call] of [
      ['escalate', () => escalate(ctx, { planId, reason: 'too late' })],
      ['pause', () => pause(ctx, { planId, reason: 'too late' })],
      ['promise', () => recordPromise(ctx, { planId, amountMinor: 100, dueAt: far })],
      ['cancel', () => cancel(ctx, { planId, reason: 'again' })],
      ['initiate', () => initiateDunning(ctx, { planId })],
    ] as const) {
      await expect(call(), name).rejects.toThrow(`Plan "${planId}" is already cancelled.`);
      await expect(call(), name).rejects.toMatchObject({ code: 'plan_closed' });
    }
  });
});

function hugeFileWithBadLastRow(): string {
  const lines = [header];
  for (let i = 0; i < 100_000; i++) lines.push(row({ account_id: `HOSTILE-BIG-${i % 5000}`, invoice_number: `HB-${i}` }));
  lines.push(row({ account_id: 'HOSTILE-BIG-0', invoice_number: 'HB-X', amount: 'ten' }));
  return lines.join('\n');
}
