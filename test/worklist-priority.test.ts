// The worklist's stored priority inputs (worklist_entries, kept by migration 0005's triggers) on
// the real stack: every writer (an import, a payment with and without a journey, the journey's
// tasks and promises, a rep closing a task, an account's new time zone) changes what the
// worklist shows at once; two transactions changing one plan leave its row as both left it; and
// the stored rows are always what the tables say.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeTask, getState, initiateDunning, recordPromise, reportPayment } from '../client/dunning';
import { importRows } from '../client/import';
import { setPolicy } from '../client/policies';
import { worklist, type WorklistRow } from '../client/worklist';
import { tasks } from '../db/schema';
import type { TaskKind } from '../workflows/domain/statuses';
import { createPlan, dateOffset, eventually, secondsPolicy } from './fixtures';
import { startApiHarness, type ApiHarness } from './http-support';

let h: ApiHarness;

beforeAll(async () => {
  h = await startApiHarness('worklist');
});
afterAll(async () => {
  await h?.close();
});

/** A plan of its own account (named `${tag} ${name}`) with open tasks written straight into the table. */
async function seedPlan(tag: string, name: string, opts: { amountMinor: number; dueIn: number; kinds?: TaskKind[]; timezone?: string }) {
  const accountName = `${tag} ${name}`;
  const plan = await createPlan(h.ctx.db, {
    accountName,
    timezone: opts.timezone,
    invoices: [{ number: 'INV-1', amountMinor: opts.amountMinor, dueOn: dateOffset(opts.dueIn), issuedOn: dateOffset(-90) }],
  });
  const kinds = opts.kinds ?? ['manual_escalation'];
  if (kinds.length) await h.ctx.db.insert(tasks).values(kinds.map((kind) => ({ id: `${plan.planId}-${kind}`, planId: plan.planId, kind, reason: `seeded ${kind}` })));
  return { ...plan, accountName };
}

/** Days from `dueOn` to today on the calendar of `zone` (an account's days past due). */
const today = (zone: string) => new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
const daysPastDueIn = (zone: string, dueOn: string) => Math.round((Date.parse(today(zone)) - Date.parse(dueOn)) / 86_400_000);

const rowsOf = async (tag: string): Promise<WorklistRow[]> => (await worklist(h.ctx, { search: tag })).rows;
const orderOf = async (tag: string) => (await rowsOf(tag)).map((r) => r.planId);
const rowOf = async (tag: string, planId: string) => (await rowsOf(tag)).find((r) => r.planId === planId);

/**
 * Rows that differ between worklist_entries and the same inputs computed from tasks, items,
 * invoices, plans and accounts here (not by the triggers' function), both ways.
 */
async function staleRows(): Promise<unknown[]> {
  const expected = sql`
    select p.id as plan_id, p.account_id, a.name as account_name, p.status, p.currency, a.timezone as time_zone,
      (select array_agg(distinct t.kind order by t.kind) from tasks t where t.plan_id = p.id and t.status = 'open') as task_kinds,
      exists (select 1 from tasks t where t.plan_id = p.id and t.status = 'open' and t.kind = 'promise_broken') as broken_promise,
      coalesce((select sum(i.open_minor) from collection_plan_items ci join invoices i on i.id = ci.invoice_id
        where ci.plan_id = p.id and ci.status = 'open'), 0)::bigint as owed_minor,
      (select min(i.due_on) from collection_plan_items ci join invoices i on i.id = ci.invoice_id
        where ci.plan_id = p.id and ci.status = 'open' and i.open_minor > 0) as earliest_due_on
    from collection_plans p join accounts a on a.id = p.account_id
    where exists (select 1 from tasks t where t.plan_id = p.id and t.status = 'open')`;
  const stored = sql`select plan_id, account_id, account_name, status, currency, time_zone, task_kinds, broken_promise, owed_minor, earliest_due_on from worklist_entries`;
  return h.ctx.db.execute(sql`(${expected} except ${stored}) union all (${stored} except ${expected})`);
}

describe('the worklist\'s stored priority inputs', () => {
  it('a payment without a journey lowers what a plan owes and moves it down; paid in full, it leaves', async () => {
    const tag = `WP${randomUUID().slice(0, 6)}`;
    const a = await seedPlan(tag, 'a', { amountMinor: 100_000, dueIn: -30 }); // 3,000,000
    const b = await seedPlan(tag, 'b', { amountMinor: 80_000, dueIn: -30 }); //   2,400,000
    expect(await orderOf(tag)).toEqual([a.planId, b.planId]);
    await reportPayment(h.ctx, { planId: a.planId, paymentId: `${a.planId}-p1`, amountMinor: 50_000 }); // 1,500,000
    expect(await orderOf(tag)).toEqual([b.planId, a.planId]);
    expect(await rowOf(tag, a.planId)).toMatchObject({ owedMinor: 50_000, daysPastDue: 30 });
    // Paid in full: the plan resolves and its open task is cancelled in the payment's transaction.
    await reportPayment(h.ctx, { planId: a.planId, paymentId: `${a.planId}-p2`, amountMinor: 50_000 });
    expect(await orderOf(tag)).toEqual([b.planId]);
    expect(await staleRows()).toEqual([]);
  });

  it('an invoice imported into an open plan raises what it owes and how long it is overdue', async () => {
    const tag = `WP${randomUUID().slice(0, 6)}`;
    const c = await seedPlan(tag, 'c', { amountMinor: 10_000, dueIn: -5, timezone: 'Europe/Berlin' }); //  50,000
    const d = await seedPlan(tag, 'd', { amountMinor: 20_000, dueIn: -5 }); //                           100,000
    expect(await orderOf(tag)).toEqual([d.planId, c.planId]);
    await importRows(h.ctx.db, [
      {
        line: 2, accountId: c.accountId, accountName: c.accountName, contactName: 'Pat Payer', contactEmail: `pat+${c.accountId}@example.com`,
        timezone: 'Europe/Berlin', currency: 'USD', invoiceNumber: 'INV-2', amountMinor: 50_000, issuedOn: dateOffset(-90), dueOn: dateOffset(-40),
      },
    ]);
    expect(await orderOf(tag)).toEqual([c.planId, d.planId]); // 60,000 × 40 = 2,400,000
    // 40 days by the UTC date the invoice was written with; Berlin's date is a day on from 23:00 UTC.
    expect(await rowOf(tag, c.planId)).toMatchObject({ owedMinor: 60_000, daysPastDue: daysPastDueIn('Europe/Berlin', dateOffset(-40)) });
    expect(await staleRows()).toEqual([]);
  });

  it('counts days past due on the account\'s calendar, and follows the account to a new time zone', async () => {
    const tag = `WP${randomUUID().slice(0, 6)}`;
    // UTC-11 and UTC+14 are 25 hours apart: their dates always differ, by one day or two.
    const e = await seedPlan(tag, 'e', { amountMinor: 10_000, dueIn: -10, timezone: 'Pacific/Pago_Pago' });
    const daysIn = (zone: string) => daysPastDueIn(zone, dateOffset(-10));
    expect((await rowOf(tag, e.planId))?.daysPastDue).toBe(daysIn('Pacific/Pago_Pago'));
    await importRows(h.ctx.db, [
      {
        line: 2, accountId: e.accountId, accountName: `${e.accountName} renamed`, contactName: 'Pat Payer', contactEmail: `pat+${e.accountId}@example.com`,
        timezone: 'Pacific/Kiritimati', currency: 'USD', invoiceNumber: 'INV-1', amountMinor: 10_000, issuedOn: dateOffset(-90), dueOn: dateOffset(-10),
      },
    ]);
    const moved = await rowOf(tag, e.planId);
    expect(moved?.daysPastDue).toBe(daysIn('Pacific/Kiritimati'));
    expect(moved?.daysPastDue).toBeGreaterThan(daysIn('Pacific/Pago_Pago'));
    // The search reads the stored name, so a renamed account is found by its new name.
    expect((await worklist(h.ctx, { search: `${tag} e renamed` })).rows.map((r) => r.planId)).toEqual([e.planId]);
    expect(await staleRows()).toEqual([]);
  });

  it('follows the journey: its task puts a plan on, a payment lowers it, a broken promise lifts it, closed tasks take it off', async () => {
    const tag = `WP${randomUUID().slice(0, 6)}`;
    const policy = `worklist-${randomUUID().slice(0, 6)}`;
    await setPolicy(h.ctx, { policy: secondsPolicy(policy, { manual_escalation: 1 }, { maxPromises: 1, promiseGrace: 'PT1S' }) });
    const big = await seedPlan(tag, 'big', { amountMinor: 1_000_000, dueIn: -30 }); // 30,000,000
    const f = await seedPlan(tag, 'f', { amountMinor: 30_000, dueIn: -3, kinds: [] });
    expect(await orderOf(tag)).toEqual([big.planId]); // no open task yet: not on the worklist
    await initiateDunning(h.ctx, { planId: f.planId, policyName: policy });
    // The journey's escalation step writes the task in its sync.
    await eventually(async () => ((await orderOf(tag)).join() === [big.planId, f.planId].join() ? true : undefined), 'the escalation to list the plan');
    expect(await rowOf(tag, f.planId)).toMatchObject({ status: 'escalated', taskKinds: ['manual_escalation'], owedMinor: 30_000, brokenPromise: false });
    // A payment to a running journey is applied by its activity.
    await reportPayment(h.ctx, { planId: f.planId, paymentId: `${f.planId}-p1`, amountMinor: 10_000 });
    await eventually(async () => ((await rowOf(tag, f.planId))?.owedMinor === 20_000 ? true : undefined), 'the payment to lower what is owed');
    // A promise that is not kept: broken promises come first, whatever is owed.
    await recordPromise(h.ctx, { planId: f.planId, amountMinor: 5_000, dueAt: new Date(Date.now() + 2_000).toISOString() });
    await eventually(async () => ((await orderOf(tag))[0] === f.planId ? true : undefined), 'the broken promise to lift the plan', 30_000);
    expect(await rowOf(tag, f.planId)).toMatchObject({ brokenPromise: true, taskKinds: expect.arrayContaining(['promise_broken']) });
    // The rep closes every open task: the plan no longer needs a person.
    const open = (await getState(h.ctx, { planId: f.planId })).tasks.filter((t) => t.status === 'open');
    expect(open.length).toBeGreaterThan(0);
    for (const task of open) await completeTask(h.ctx, { planId: f.planId, taskId: task.id, outcome: 'called, will pay' });
    expect(await orderOf(tag)).toEqual([big.planId]);
    expect(await staleRows()).toEqual([]);
  }, 60_000);

  it('leaves a plan\'s row as two concurrent transactions left it (a payment and a new task)', async () => {
    const tag = `WP${randomUUID().slice(0, 6)}`;
    const g = await seedPlan(tag, 'g', { amountMinor: 40_000, dueIn: -10 });
    let taskDone: Promise<unknown> | undefined;
    await h.stack.db.sql.begin(async (tx) => {
      // A payment's write, not yet committed...
      await tx`update invoices set open_minor = 15000 where account_id = ${g.accountId}`;
      // ...while another connection opens a task on the same plan: its refresh must wait for the
      // payment and count it, not write the amount from before it over the payment's.
      taskDone = h.stack.db.sql`insert into tasks (id, plan_id, kind, reason) values (${`${g.planId}-rep`}, ${g.planId}, 'rep_escalation', 'concurrent')`.then((r) => r);
      await new Promise((r) => setTimeout(r, 300));
    });
    await taskDone;
    expect(await rowOf(tag, g.planId)).toMatchObject({ owedMinor: 15_000, taskKinds: ['manual_escalation', 'rep_escalation'] });
    expect(await staleRows()).toEqual([]);
  });
});
