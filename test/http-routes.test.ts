// Every route of the HTTP API on the real stack: its happy path and the refusals the plan's state
// gives, each answer checked against the committed OpenAPI document (http-support's `call`).
// Where the journey must move on its own, a policy in seconds moves it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { DunningError, pause, recordPromise } from '../client/dunning';
import { setPolicy } from '../client/policies';
import { contacts } from '../db/schema';
import { eventually, secondsPolicy } from './fixtures';
import { compositePlan, importCsvText, rowCounts, startApiHarness, type ApiHarness } from './http-support';

let h: ApiHarness;
/** Steps an hour away: the journey sits still while a test works on it. */
let quietPolicy: string;

beforeAll(async () => {
  h = await startApiHarness('http-routes');
  quietPolicy = `routes-quiet-${randomUUID().slice(0, 6)}`;
  await setPolicy(h.ctx, { policy: secondsPolicy(quietPolicy, { upcoming_notice: 3600, manual_escalation: 7200 }, { maxPromises: 3 }) });
});
afterAll(async () => {
  await h?.close();
});

const tag = (prefix: string) => `${prefix}-${randomUUID().slice(0, 6)}`;
const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

/** A plan made through the API; initiated under the quiet policy unless told otherwise. */
async function newPlan(prefix: string, opts: { initiate?: string | false } = {}): Promise<{ acct: string; planId: string }> {
  const acct = tag(prefix);
  const initiate = opts.initiate === false ? {} : { initiate: { policy: opts.initiate ?? quietPolicy } };
  const created = await h.call('POST', '/v1/plans', { body: { ...compositePlan(acct), ...initiate } });
  expect(created.status).toBe(201);
  const planId = created.body.planId as string;
  if (opts.initiate !== false) await h.untilBegun(planId);
  return { acct, planId };
}

function expectProblem(answer: { status: number; body: any }, status: number, code: string, detail?: string | RegExp) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ status, code, type: `urn:dunning:problem:${code}` });
  if (detail !== undefined) expect(answer.body.detail).toMatch(typeof detail === 'string' ? new RegExp(`^${detail.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : detail);
}

describe('plans: create, read, preview, list', () => {
  it('creates a plan and reads it back; an unknown plan is 404', async () => {
    const acct = tag('RT');
    const created = await h.call('POST', '/v1/plans', { body: compositePlan(acct) });
    expect(created).toMatchObject({ status: 201, body: { planId: `plan-${acct}`, status: 'not_started', created: true, outstandingMinor: 50_000, currency: 'USD' } });
    expect(created.body.initiated).toBeUndefined();
    const read = await h.call('GET', `/v1/plans/plan-${acct}`, { as: 'rep' });
    expect(read).toMatchObject({ status: 200, body: { planId: `plan-${acct}`, accountId: acct, accountName: 'Acme Anvils Ltd', status: 'not_started', steps: [], promises: [], tasks: [] } });
    expectProblem(await h.call('GET', `/v1/plans/plan-${acct}-nope`), 404, 'unknown_plan', `Unknown plan "plan-${acct}-nope".`);
  });

  it('creates and initiates in one call: the answer reads in_progress, not not_started', async () => {
    const acct = tag('RTI');
    const created = await h.call('POST', '/v1/plans', { body: { ...compositePlan(acct), initiate: { policy: quietPolicy } } });
    expect(created).toMatchObject({
      status: 201,
      body: { planId: `plan-${acct}`, status: 'in_progress', workflowId: `dunning-plan-${acct}`, initiated: { workflowId: `dunning-plan-${acct}`, alreadyRunning: false, policy: quietPolicy } },
    });
    await h.untilBegun(`plan-${acct}`);
    const again = await h.call('POST', '/v1/plans', { body: { ...compositePlan(acct), initiate: {} } });
    expect(again).toMatchObject({ status: 201, body: { created: false, status: 'in_progress', initiated: { alreadyRunning: true, policy: quietPolicy } } });
  });

  it('refuses a composite create naming an unknown policy to initiate with, writing nothing', async () => {
    const acct = tag('RTP');
    const before = await rowCounts(h.ctx, { accounts: [acct] });
    expectProblem(
      await h.call('POST', '/v1/plans', { body: { ...compositePlan(acct), initiate: { policy: 'no-such-policy' } } }),
      404,
      'unknown_policy',
      'Unknown policy "no-such-policy"; see `dunning policy list`.',
    );
    expect(await rowCounts(h.ctx, { accounts: [acct] })).toEqual(before);
  });

  it('previews the calendar under a policy without starting anything; unknown plan or policy is 404', async () => {
    const { acct, planId } = await newPlan('PV', { initiate: false });
    const before = await rowCounts(h.ctx, { accounts: [acct] });
    const preview = await h.call('GET', `/v1/plans/${planId}/preview?policy=${quietPolicy}`, { as: 'rep' });
    expect(preview).toMatchObject({ status: 200, body: { planId, policy: quietPolicy, timeZone: 'America/Phoenix', dueOn: '2026-11-01', outstandingMinor: 50_000 } });
    expect(preview.body.steps.map((s: { key: string }) => s.key)).toEqual(['upcoming_notice', 'manual_escalation']);
    const standard = await h.call('GET', `/v1/plans/${planId}/preview`);
    expect(standard).toMatchObject({ status: 200, body: { policy: 'standard' } });
    expect(await rowCounts(h.ctx, { accounts: [acct] })).toEqual(before);
    expectProblem(await h.call('GET', `/v1/plans/${planId}/preview?policy=nope`), 404, 'unknown_policy');
    expectProblem(await h.call('GET', `/v1/plans/${planId}x/preview`), 404, 'unknown_plan');
  });

  it('lists plans by status, account and open task kind', async () => {
    const { acct, planId } = await newPlan('LS');
    const mine = await h.call('GET', `/v1/plans?accountId=${acct}`, { as: 'rep' });
    expect(mine).toMatchObject({ status: 200, body: { data: [{ planId, accountId: acct, status: 'in_progress', outstandingMinor: 50_000 }], nextCursor: null } });
    const byStatus = await h.call('GET', `/v1/plans?status=in_progress&accountId=${acct}&limit=5`);
    expect(byStatus.body.data).toHaveLength(1);
    const none = await h.call('GET', `/v1/plans?status=resolved&accountId=${acct}`);
    expect(none.body).toEqual({ data: [], nextCursor: null });
    expect((await h.call('POST', `/v1/plans/${planId}/escalations`, { as: 'rep', body: { reason: 'Wants to talk' } })).status).toBe(201);
    const withTask = await h.call('GET', `/v1/plans?taskKind=rep_escalation&accountId=${acct}`, { as: 'ops' });
    expect(withTask.body.data.map((p: { planId: string }) => p.planId)).toEqual([planId]);
  });
});

describe('plans: initiate, pay, cancel', () => {
  it('initiates once: a second initiate returns the running journey; unknown plan or policy is 404', async () => {
    const { planId } = await newPlan('IN', { initiate: false });
    const first = await h.call('POST', `/v1/plans/${planId}/initiate`, { body: { policy: quietPolicy } });
    expect(first).toMatchObject({ status: 200, body: { planId, workflowId: `dunning-${planId}`, alreadyRunning: false, policy: quietPolicy } });
    const second = await h.call('POST', `/v1/plans/${planId}/initiate`, { as: 'ops', body: {} });
    expect(second).toMatchObject({ status: 200, body: { planId, workflowId: `dunning-${planId}`, alreadyRunning: true, policy: quietPolicy, runId: first.body.runId } });
    expectProblem(await h.call('POST', `/v1/plans/${planId}-x/initiate`, { body: {} }), 404, 'unknown_plan');
    const { planId: other } = await newPlan('IN2', { initiate: false });
    expectProblem(await h.call('POST', `/v1/plans/${other}/initiate`, { body: { policy: 'nope' } }), 404, 'unknown_policy');
  });

  it('takes a payment into a running journey and into a plan without one; refuses an invoice not on the plan', async () => {
    const running = await newPlan('PY');
    const paid = await h.call('POST', `/v1/plans/${running.planId}/payments`, { body: { paymentId: `${running.acct}-p1`, amountMinor: 1_000, invoiceNumber: `${running.acct}-1` } });
    expect(paid).toMatchObject({ status: 202, body: { delivered: 'workflow', planId: running.planId, amountMinor: 1_000, currency: 'USD', locale: 'en-US' } });
    await eventually(async () => ((await h.call('GET', `/v1/plans/${running.planId}`)).body.outstandingMinor === 49_000 ? true : undefined), 'the payment');

    const idle = await newPlan('PY2', { initiate: false });
    const direct = await h.call('POST', `/v1/plans/${idle.planId}/payments`, { body: { paymentId: `${idle.acct}-p1`, amountMinor: 2_000, receivedAt: '2026-11-02T10:00:00Z' } });
    expect(direct).toMatchObject({ status: 202, body: { delivered: 'database' } });
    expect((await h.call('GET', `/v1/plans/${idle.planId}`)).body.outstandingMinor).toBe(48_000);

    const before = await rowCounts(h.ctx, { accounts: [idle.acct] });
    expectProblem(
      await h.call('POST', `/v1/plans/${idle.planId}/payments`, { body: { paymentId: `${idle.acct}-p2`, amountMinor: 1, invoiceNumber: 'INV-NOPE' } }),
      422,
      'invalid',
      `Invoice "INV-NOPE" is not an open item of plan "${idle.planId}".`,
    );
    expectProblem(await h.call('POST', `/v1/plans/plan-${idle.acct}-x/payments`, { body: { paymentId: 'p', amountMinor: 1 } }), 404, 'unknown_plan');
    expect(await rowCounts(h.ctx, { accounts: [idle.acct] })).toEqual(before);
  });

  it('cancels a running journey; a closed plan refuses cancel, initiate and rep work with 409', async () => {
    const { planId } = await newPlan('CX');
    const cancelled = await h.call('POST', `/v1/plans/${planId}/cancel`, { as: 'rep', body: { reason: 'Billed in error' } });
    expect(cancelled).toMatchObject({ status: 200, body: { planId, status: 'cancelled', locale: 'en-US' } });
    await eventually(async () => ((await h.call('GET', `/v1/plans/${planId}`)).body.status === 'cancelled' ? true : undefined), 'the plan to read cancelled');
    expectProblem(await h.call('POST', `/v1/plans/${planId}/cancel`, { body: { reason: 'Again' } }), 409, 'plan_closed', `Plan "${planId}" is already cancelled.`);
    expectProblem(await h.call('POST', `/v1/plans/${planId}/initiate`, { body: {} }), 409, 'plan_closed', `Plan "${planId}" is already cancelled.`);
    expectProblem(await h.call('POST', `/v1/plans/${planId}/pause`, { as: 'rep', body: { reason: 'Dispute' } }), 409, 'plan_closed');
    expectProblem(await h.call('POST', `/v1/plans/${planId}/promises`, { as: 'rep', body: { amountMinor: 100, dueAt: inSeconds(3600) } }), 409, 'plan_closed');
  });

  it('refuses journey work on a plan never initiated with 409 not_running', async () => {
    const { planId } = await newPlan('NR', { initiate: false });
    const notRunning = `Plan "${planId}" has no running journey; start one with \`dunning initiate ${planId}\`.`;
    expectProblem(await h.call('POST', `/v1/plans/${planId}/cancel`, { body: { reason: 'x' } }), 409, 'not_running', notRunning);
    expectProblem(await h.call('POST', `/v1/plans/${planId}/escalations`, { as: 'rep', body: { reason: 'x' } }), 409, 'not_running', notRunning);
    expectProblem(await h.call('POST', `/v1/plans/${planId}/resume`, { as: 'rep', body: {} }), 409, 'not_running', notRunning);
  });
});

describe('reps: promises, escalations, pause and resume, tasks, consent', () => {
  it('records a promise; refusals are 422 with the journey\'s sentence, the same the CLI prints, and record nothing', async () => {
    const { acct, planId } = await newPlan('PR');
    const before = await rowCounts(h.ctx, { accounts: [acct] });
    // The sentences test/cli.test.ts expects `dunning promise` to print for the same refusals on a
    // plan owing 500.00 USD; the CLI prints the service's refusal, so that is asked too.
    const refusals: Array<[{ amountMinor: number; dueAt: string }, string]> = [
      [{ amountMinor: 10_000, dueAt: '2020-01-01T00:00:00Z' }, 'The promised date must be in the future.'],
      [{ amountMinor: 90_000, dueAt: inSeconds(3600) }, 'The promised amount is more than the 500.00 USD owed.'],
    ];
    for (const [body, sentence] of refusals) {
      expectProblem(await h.call('POST', `/v1/plans/${planId}/promises`, { as: 'rep', body }), 422, 'promise_refused', sentence);
      const cli = await recordPromise(h.ctx, { planId, ...body }).catch((err: unknown) => err);
      expect(cli).toBeInstanceOf(DunningError);
      expect(cli).toMatchObject({ message: sentence, code: 'promise_refused' });
    }
    expectProblem(
      await h.call('POST', `/v1/plans/${planId}/promises`, {
        as: 'rep',
        body: { installments: [{ amountMinor: 100, dueAt: inSeconds(7200) }, { amountMinor: 100, dueAt: inSeconds(3600) }] },
      }),
      422,
      'promise_refused',
      'Installment dates must be in order.',
    );
    expect(await rowCounts(h.ctx, { accounts: [acct] })).toEqual(before);

    const made = await h.call('POST', `/v1/plans/${planId}/promises`, { as: 'rep', body: { amountMinor: 20_000, dueAt: inSeconds(3600) } });
    expect(made).toMatchObject({ status: 201, body: { planId, status: 'promised' } });
    expect(made.body.promiseId).toEqual(expect.any(String));
    expectProblem(
      await h.call('POST', `/v1/plans/${planId}/promises`, { as: 'ops', body: { amountMinor: 100, dueAt: inSeconds(3600) } }),
      422,
      'promise_refused',
      `Promise ${made.body.promiseId} is still open.`,
    );
    const view = await eventually(async () => {
      const r = await h.call('GET', `/v1/plans/${planId}`);
      return r.body.promises.length === 1 ? r.body : undefined;
    }, 'the promise to show');
    expect(view.promises).toMatchObject([{ id: made.body.promiseId, amountMinor: 20_000, status: 'open', rep: 'test rep' }]);
  });

  it('records installments with a rep named in the body', async () => {
    const { planId } = await newPlan('PI');
    const made = await h.call('POST', `/v1/plans/${planId}/promises`, {
      as: 'rep',
      body: { installments: [{ amountMinor: 10_000, dueAt: inSeconds(3600) }, { amountMinor: 15_000, dueAt: inSeconds(7200) }], amountMinor: 25_000, rep: 'Rita' },
    });
    expect(made).toMatchObject({ status: 201, body: { status: 'promised' } });
    const view = await eventually(async () => {
      const r = await h.call('GET', `/v1/plans/${planId}`, { as: 'rep' });
      return r.body.promises.length === 1 ? r.body : undefined;
    }, 'the promise to show');
    expect(view.promises[0]).toMatchObject({ amountMinor: 25_000, rep: 'Rita', schedule: [{ seq: 1, amountMinor: 10_000 }, { seq: 2, amountMinor: 15_000 }] });
  });

  it('escalates, then completes the task; a task done or unknown is refused', async () => {
    const { planId } = await newPlan('ES');
    const escalated = await h.call('POST', `/v1/plans/${planId}/escalations`, { as: 'rep', body: { reason: 'Customer asked for a call' } });
    expect(escalated).toMatchObject({ status: 201, body: { planId, taskId: `${planId}:rep_escalation:1` } });
    const taskId = escalated.body.taskId as string;
    const done = await h.call('POST', `/v1/plans/${planId}/tasks/${taskId}/complete`, { as: 'rep', body: { outcome: 'contacted' } });
    expect(done.status).toBe(200);
    expect(done.body.tasks).toEqual(expect.arrayContaining([expect.objectContaining({ id: taskId, status: 'done', outcome: 'contacted' })]));
    expectProblem(await h.call('POST', `/v1/plans/${planId}/tasks/${taskId}/complete`, { as: 'rep', body: { outcome: 'again' } }), 409, 'task_closed', `Task "${taskId}" is already done.`);
    expectProblem(
      await h.call('POST', `/v1/plans/${planId}/tasks/${planId}:nope/complete`, { as: 'ops', body: { outcome: 'contacted' } }),
      404,
      'unknown_task',
      `The plan has no task "${planId}:nope".`,
    );
  });

  it('completes the task a seconds-long policy makes on its own', async () => {
    const policy = `routes-task-${randomUUID().slice(0, 6)}`;
    await setPolicy(h.ctx, { policy: secondsPolicy(policy, { manual_escalation: 1 }) });
    const { planId } = await newPlan('TK', { initiate: policy });
    const task = await eventually(async () => {
      const r = await h.call('GET', `/v1/plans/${planId}`, { as: 'rep' });
      return r.body.tasks.find((t: { kind: string; status: string }) => t.kind === 'manual_escalation' && t.status === 'open') as { id: string } | undefined;
    }, 'the escalation task');
    const listed = await h.call('GET', `/v1/plans?taskKind=manual_escalation&accountId=${planId.slice('plan-'.length)}`, { as: 'rep' });
    expect(listed.body.data).toMatchObject([{ planId, status: 'escalated' }]);
    const done = await h.call('POST', `/v1/plans/${planId}/tasks/${task.id}/complete`, { as: 'rep', body: { outcome: 'write_off' } });
    expect(done.status).toBe(200);
    expect(done.body.tasks).toEqual(expect.arrayContaining([expect.objectContaining({ id: task.id, status: 'done' })]));
  });

  it('pauses until a date and resumes; an end date not ahead is 422, pausing twice or resuming a running plan is 409', async () => {
    const { planId } = await newPlan('PS');
    // The sentence test/cli.test.ts expects `dunning pause --until 2020-01-01` to print; the service says it too.
    const past = { reason: 'Disputes INV-1', until: '2020-01-01T00:00:00Z' };
    expectProblem(await h.call('POST', `/v1/plans/${planId}/pause`, { as: 'rep', body: past }), 422, 'invalid', 'The pause end date must be in the future.');
    expect(await pause(h.ctx, { planId, ...past }).catch((err: unknown) => err)).toMatchObject({ message: 'The pause end date must be in the future.', code: 'invalid' });
    const until = inSeconds(3600);
    const paused = await h.call('POST', `/v1/plans/${planId}/pause`, { as: 'rep', body: { reason: 'Disputes INV-1', until } });
    expect(paused).toMatchObject({ status: 200, body: { planId, status: 'on_hold', paused: { reason: 'Disputes INV-1', until } } });
    expectProblem(
      await h.call('POST', `/v1/plans/${planId}/pause`, { as: 'rep', body: { reason: 'Again' } }),
      409,
      'already_paused',
      'The plan is already paused (Disputes INV-1).',
    );
    expectProblem(
      await h.call('POST', `/v1/plans/${planId}/promises`, { as: 'rep', body: { amountMinor: 100, dueAt: inSeconds(3600) } }),
      422,
      'promise_refused',
      'The plan is paused (Disputes INV-1); resume it before recording a promise.',
    );
    const resumed = await h.call('POST', `/v1/plans/${planId}/resume`, { as: 'ops', body: {} });
    expect(resumed).toMatchObject({ status: 200, body: { planId, status: 'in_progress' } });
    expect(resumed.body.paused).toBeUndefined();
    expectProblem(await h.call('POST', `/v1/plans/${planId}/resume`, { as: 'rep', body: {} }), 409, 'not_paused', 'The plan is not paused.');
  });

  it('records a contact\'s consent; an unknown contact is 404', async () => {
    const { acct } = await newPlan('CN', { initiate: false });
    const [contact] = await h.ctx.db.select().from(contacts).where(eq(contacts.accountId, acct));
    const set = await h.call('POST', `/v1/contacts/${contact!.id}/consent`, { as: 'rep', body: { channel: 'email', consent: 'opted_out' } });
    expect(set).toEqual(expect.objectContaining({ status: 200, body: { contactId: contact!.id, channel: 'email', consent: 'opted_out' } }));
    const [after] = await h.ctx.db.select().from(contacts).where(eq(contacts.id, contact!.id));
    expect(after!.emailConsent).toBe('opted_out');
    const unknown = randomUUID();
    expectProblem(await h.call('POST', `/v1/contacts/${unknown}/consent`, { as: 'ops', body: { channel: 'email', consent: 'opted_in' } }), 404, 'unknown_contact', `No contact "${unknown}".`);
  });
});

describe('ops: policies', () => {
  it('lists policies and saves a new version of one', async () => {
    const name = `routes-${randomUUID().slice(0, 6)}`;
    const policy = secondsPolicy(name, { upcoming_notice: 0, manual_escalation: 60 });
    const first = await h.call('PUT', `/v1/policies/${name}`, { as: 'ops', body: policy });
    expect(first).toMatchObject({ status: 200, body: { name, version: 1, policy: { name, maxPromises: 1 } } });
    const { name: _name, ...withoutName } = policy;
    const second = await h.call('PUT', `/v1/policies/${name}`, { as: 'ops', body: { ...withoutName, maxPromises: 3 } });
    expect(second).toMatchObject({ status: 200, body: { name, version: 2, policy: { maxPromises: 3 } } });
    const list = await h.call('GET', '/v1/policies', { as: 'ops' });
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual(expect.arrayContaining([expect.objectContaining({ name, version: 2 }), expect.objectContaining({ name: 'standard' })]));
  });

  it('refuses a policy whose name differs from the path, or that breaks a rule, with one sentence', async () => {
    const name = `routes-${randomUUID().slice(0, 6)}`;
    const before = await rowCounts(h.ctx, { accounts: [], policies: [name, 'someone-else'] });
    expectProblem(
      await h.call('PUT', `/v1/policies/${name}`, { as: 'ops', body: secondsPolicy('someone-else', { upcoming_notice: 0 }) }),
      422,
      'invalid',
      `The policy's name "someone-else" differs from "${name}" in the path.`,
    );
    const bad = secondsPolicy(name, { upcoming_notice: 0 });
    bad.steps[0]!.at = 'three days';
    expectProblem(
      await h.call('PUT', `/v1/policies/${name}`, { as: 'ops', body: bad }),
      422,
      'invalid',
      'Invalid policy field "steps.0.at": must be an ISO-8601 duration of weeks, days, hours, minutes or seconds, like P3D, -P3D or PT5S.',
    );
    expect(await rowCounts(h.ctx, { accounts: [], policies: [name, 'someone-else'] })).toEqual(before);
  });
});

describe('imports', () => {
  it('imports a CSV into one plan per account', async () => {
    const [a, b] = [tag('IMA'), tag('IMB')];
    const csv = importCsvText([
      { account: a, invoice: `${a}-1` },
      { account: a, invoice: `${a}-2`, amount: '50.00' },
      { account: b, invoice: `${b}-1` },
    ]);
    const imported = await h.call('POST', '/v1/imports', { body: csv, headers: { 'content-type': 'text/csv' } });
    expect(imported).toMatchObject({ status: 201, body: { rows: 3, accounts: 2, invoicesAdded: 3 } });
    expect(imported.body.plans).toEqual([
      { planId: `plan-${a}`, accountId: a, created: true, items: 2 },
      { planId: `plan-${b}`, accountId: b, created: true, items: 1 },
    ]);
    const again = await h.call('POST', '/v1/imports', { as: 'ops', body: csv, headers: { 'content-type': 'text/csv; charset=utf-8' } });
    expect(again).toMatchObject({ status: 201, body: { invoicesAdded: 0, plans: [{ created: false }, { created: false }] } });
  });

  it('refuses a CSV with a bad row naming its line, and writes nothing of the file', async () => {
    const [a, b] = [tag('IMX'), tag('IMY')];
    const csv = importCsvText([
      { account: a, invoice: `${a}-1` },
      { account: b, invoice: `${b}-1` },
      { account: b, invoice: `${b}-2`, dueOn: '2026-02-30' },
    ]);
    const before = await rowCounts(h.ctx, { accounts: [a, b] });
    expectProblem(await h.call('POST', '/v1/imports', { body: csv, headers: { 'content-type': 'text/csv' } }), 422, 'invalid', 'Line 4: due_on is not a real date (YYYY-MM-DD).');
    expect(await rowCounts(h.ctx, { accounts: [a, b] })).toEqual(before);
    expect(before).toMatchObject({ accounts: 0, invoices: 0, plans: 0 });
  });
});

describe('the door', () => {
  it('answers /health, and an unknown route with a 404 problem', async () => {
    expect(await h.call('GET', '/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expectProblem(await h.call('GET', '/v1/nothing-here'), 404, 'not_found', 'There is no GET /v1/nothing-here; see /docs.');
    expectProblem(await h.call('DELETE', '/v1/plans'), 404, 'not_found');
  });
});
