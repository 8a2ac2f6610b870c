// The rep console's sign-in, sign-out, CSRF and worklist on the real stack, through the app
// `dunning api` serves (app.request with a cookie kept by hand; browser tests come later).
import { createHash, randomUUID } from 'node:crypto';
import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../client/api-keys';
import { SESSION_COOKIE } from '../client/console/routes';
import { initiateDunning } from '../client/dunning';
import { planStatus } from '../client/status';
import { worklist } from '../client/worklist';
import { stateQuery, workflowIdFor } from '../workflows/messages';
import { consoleSessions, tasks } from '../db/schema';
import type { TaskKind } from '../workflows/domain/statuses';
import { createPlan, dateOffset } from './fixtures';
import { consoleBrowser, signedInConsole } from './console-support';
import { startApiHarness, type ApiHarness } from './http-support';

let h: ApiHarness;

beforeAll(async () => {
  h = await startApiHarness('console');
});
afterAll(async () => {
  await h?.close();
});

/** A browser's view of the console, and one signed in with a key. */
const browser = () => consoleBrowser(h.api);
const signedIn = (key: string) => signedInConsole(h.api, key);

describe('signing in and out', () => {
  it('shows a sign-in form with a labelled key field, and sends a visitor without a session there', async () => {
    const form = await browser().get('/sign-in');
    expect(form.status).toBe(200);
    expect(form.html).toContain('<label for="key">');
    expect(form.html).toContain('id="key" name="key"');
    const home = await browser().get('/');
    expect(home.status).toBe(303);
    expect(home.headers.get('location')).toBe('/sign-in');
  });

  it('signs a rep in with an HttpOnly, SameSite session cookie that expires in 8 hours', async () => {
    const b = browser();
    const res = await b.post('/sign-in', { key: h.keys.rep });
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43};`));
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toMatch(/SameSite=(Lax|Strict)/);
    expect(cookie).toContain('Max-Age=28800');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toContain(h.keys.rep);
    const home = await b.get('/');
    expect(home.status).toBe(200);
    expect(home.html).toContain('Signed in as test rep');
    // The row holds only the id's SHA-256: a copy of the table signs nobody in.
    const hash = createHash('sha256').update(b.cookie!).digest('hex');
    const rows = await h.ctx.db.select().from(consoleSessions).where(inArray(consoleSessions.idHash, [hash, b.cookie!]));
    expect(rows.map((r) => r.idHash)).toEqual([hash]);
    expect(rows[0]!.expiresAt.getTime() - rows[0]!.createdAt.getTime()).toBeCloseTo(8 * 3600_000, -4);
  });

  it('signs an ops key in too', async () => {
    const b = await signedIn(h.keys.ops);
    expect((await b.get('/')).status).toBe(200);
  });

  it('refuses a billing key and a wrong key with one sentence on the form, and opens no session', async () => {
    for (const [key, sentence] of [
      [h.keys.billing, 'The billing role may not sign in to the console; it is for rep and ops keys.'],
      [`${h.keys.rep.slice(0, -3)}abc`, 'The API key is unknown or revoked.'],
    ] as const) {
      const b = browser();
      const res = await b.post('/sign-in', { key });
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.html).toContain(sentence);
      expect(res.html).toContain('role="alert"');
      expect((await b.get('/')).status).toBe(303);
    }
  });

  it('ends the session on sign-out: the old cookie no longer opens the worklist', async () => {
    const b = await signedIn(h.keys.rep);
    const old = b.cookie!;
    const home = await b.get('/');
    const out = await b.post('/sign-out', { csrf: b.csrfOf(home.html) });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/sign-in');
    expect(out.headers.get('set-cookie')).toMatch(new RegExp(`^${SESSION_COOKIE}=;.*Max-Age=0`));
    const replay = await h.api.request('/', { headers: { cookie: `${SESSION_COOKIE}=${old}` } });
    expect(replay.status).toBe(303);
  });

  it('refuses a sign-in form over 64 KB before reading it', async () => {
    const res = await browser().post('/sign-in', { key: 'x'.repeat(70_000) });
    expect(res.status).toBe(413);
    expect(res.html).toContain('The form is larger than 64 KB.');
  });

  it('replaces the browser\'s old session when it signs in again', async () => {
    const b = await signedIn(h.keys.rep);
    const old = b.cookie!;
    await b.post('/sign-in', { key: h.keys.ops });
    expect(b.cookie).not.toBe(old);
    expect((await h.api.request('/', { headers: { cookie: `${SESSION_COOKIE}=${old}` } })).status).toBe(303);
    expect((await b.get('/')).html).toContain('Signed in as test ops');
  });

  it('ends a session at once when its key is revoked', async () => {
    const key = await createApiKey(h.ctx, { name: `revoked rep ${randomUUID().slice(0, 4)}`, role: 'rep' });
    const b = await signedIn(key.key);
    expect((await b.get('/')).status).toBe(200);
    await revokeApiKey(h.ctx, { id: key.id });
    const after = await b.get('/');
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/sign-in');
  });

  it('refuses a form post without the session\'s CSRF token with 403 and a sentence', async () => {
    const b = await signedIn(h.keys.rep);
    for (const form of [{}, { csrf: 'not-the-token' }, { csrf: 'é'.repeat(43) }] as Array<Record<string, string>>) {
      const res = await b.post('/sign-out', form);
      expect(res.status).toBe(403);
      expect(res.html).toContain('did not carry this session&#39;s security token');
    }
    expect((await b.get('/')).status).toBe(200);
  });
});

describe('the worklist', () => {
  const tag = `WL${randomUUID().slice(0, 6)}`;
  const seeded: Record<'broken' | 'older' | 'larger' | 'notDue' | 'euro', { planId: string; accountId: string }> = {} as never;

  async function seed(name: keyof typeof seeded, opts: { amountMinor: number; dueIn: number; kinds: TaskKind[]; currency?: string; locale?: string }) {
    const plan = await createPlan(h.ctx.db, {
      accountName: `${tag} ${name}`,
      currency: opts.currency,
      locale: opts.locale,
      invoices: [{ amountMinor: opts.amountMinor, dueOn: dateOffset(opts.dueIn), issuedOn: dateOffset(-60) }],
    });
    await h.ctx.db.insert(tasks).values(opts.kinds.map((kind) => ({ id: `${plan.planId}-${kind}`, planId: plan.planId, kind, reason: `seeded ${kind}` })));
    seeded[name] = plan;
  }

  beforeAll(async () => {
    // Priorities by hand: broken promise first whatever its size; then owed × days past due.
    await seed('broken', { amountMinor: 10_000, dueIn: -5, kinds: ['promise_broken'] }); //  first
    await seed('older', { amountMinor: 100_000, dueIn: -30, kinds: ['manual_escalation'] }); // 3,000,000
    await seed('larger', { amountMinor: 200_000, dueIn: -10, kinds: ['manual_escalation', 'email_failed'] }); // 2,000,000
    await seed('euro', { amountMinor: 50_000, dueIn: -20, kinds: ['opted_out'], currency: 'EUR', locale: 'de-DE' }); // 1,000,000
    await seed('notDue', { amountMinor: 1_000_000, dueIn: 5, kinds: ['rep_escalation'] }); // 0 days
  });

  const order = (html: string) => [...html.matchAll(/<tr data-plan="([^"]+)"/g)].map((m) => m[1]);
  const plansOf = (...names: Array<keyof typeof seeded>) => names.map((n) => seeded[n].planId);

  it('puts a broken promise first, then amount owed × days past due, and explains the order', async () => {
    const b = await signedIn(h.keys.rep);
    const page = await b.get(`/?search=${tag}`);
    expect(page.status).toBe(200);
    expect(order(page.html)).toEqual(plansOf('broken', 'older', 'larger', 'euro', 'notDue'));
    expect(page.html).toContain('Plans with a broken promise come first');
    expect(page.html).toContain('€'); // the euro account's amount in its own locale
    expect(page.html).toContain('500,00');
    expect(page.html).toContain('$2,000.00');
    expect(page.html).toContain(`href="/plans/${seeded.larger.planId}"`);
    // Counts per queue under the search.
    expect(page.html).toContain('<span data-queue="manual_escalation">2</span>');
    expect(page.html).toContain('<span data-queue="promise_broken">1</span>');
    expect(page.html).toContain('<span data-queue="no_contact">0</span>');
  });

  it('filters by task kind and currency, and searches by account id', async () => {
    const b = await signedIn(h.keys.rep);
    expect(order((await b.get(`/?search=${tag}&taskKind=manual_escalation`)).html)).toEqual(plansOf('older', 'larger'));
    expect(order((await b.get(`/?search=${tag}&currency=eur`)).html)).toEqual(plansOf('euro'));
    expect(order((await b.get(`/?search=${seeded.larger.accountId.toUpperCase()}`)).html)).toEqual(plansOf('larger'));
  });

  it('pages by priority with a cursor', async () => {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await worklist(h.ctx, { search: tag, limit: 2, cursor });
      pages.push(page.rows.map((r) => r.planId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(pages).toEqual([plansOf('broken', 'older'), plansOf('larger', 'euro'), plansOf('notDue')]);
  });

  it('refuses an unknown task kind or a cursor it did not give with a sentence', async () => {
    const b = await signedIn(h.keys.rep);
    const kind = await b.get('/?taskKind=bogus');
    expect(kind.status).toBe(400);
    expect(kind.html).toContain('There is no task kind &quot;bogus&quot;.');
    const cursor = await b.get('/?cursor=abc');
    expect(cursor.status).toBe(400);
    expect(cursor.html).toContain('The cursor is not one this page gave; start again without it.');
  });

  it('says what to do when nothing matches, and reads % and _ as themselves', async () => {
    const b = await signedIn(h.keys.rep);
    for (const search of [`${tag}-nobody`, `${tag.slice(0, 2)}%`, `${tag.slice(0, 2)}_${tag.slice(3)}`]) {
      const page = await b.get(`/?search=${encodeURIComponent(search)}`);
      expect(order(page.html)).toEqual([]);
      expect(page.html).toContain('No plan that needs a person matches these filters; clear them or search for another account.');
    }
  });

  it('links each row to a first plan page with the plan\'s tasks, and refuses an unknown plan with its sentence', async () => {
    const b = await signedIn(h.keys.rep);
    const page = await b.get(`/plans/${seeded.larger.planId}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain(`data-task="${seeded.larger.planId}-email_failed"`);
    expect(page.html).toContain('$2,000.00');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const unknown = await b.get('/plans/plan-nobody');
    expect(unknown.status).toBe(404);
    expect(unknown.html).toContain('Unknown plan &quot;plan-nobody&quot;.');
    expect((await browser().get(`/plans/${seeded.larger.planId}`)).status).toBe(303);
  });
});

describe('the plan page and its actions', () => {
  /** An initiated plan with two invoices, one 12 days overdue, under the standard policy's long timers. */
  async function livePlan() {
    const plan = await createPlan(h.ctx.db, {
      accountName: `Plan page ${randomUUID().slice(0, 6)}`,
      invoices: [
        { number: 'INV-OLD', amountMinor: 40_000, dueOn: dateOffset(-12) },
        { number: 'INV-NEW', amountMinor: 60_000, dueOn: dateOffset(20) },
      ],
    });
    await initiateDunning(h.ctx, { planId: plan.planId });
    await h.untilBegun(plan.planId);
    return plan;
  }
  const promiseForm = (html: string) => /<form id="promise-form"[\s\S]*?<\/form>/.exec(html)?.[0] ?? '';
  const noticeOf = (html: string) => /<p id="notice"[^>]*>([^<]*)<\/p>/.exec(html)?.[1];

  it('shows the account, contacts with consent, invoices with days overdue, the summary and the Temporal UI link', async () => {
    const plan = await livePlan();
    const b = await signedIn(h.keys.rep);
    // The test stack names its Temporal by address; the link needs the UI's address then.
    h.ctx.config.temporal.uiUrl = 'http://temporal-ui.test:8080/';
    const page = await b.get(`/plans/${plan.planId}`);
    h.ctx.config.temporal.uiUrl = undefined;
    expect(page.status).toBe(200);
    expect(page.html).toContain(`pat+${plan.accountId}@example.com`);
    expect(page.html).toContain('opted in');
    expect(page.html).toMatch(/<tr data-invoice="INV-OLD"><td>INV-OLD<\/td><td>[^<]+<\/td><td class="num">12<\/td><td class="num">\$400\.00<\/td><td class="num">\$400\.00<\/td><td>open<\/td><\/tr>/);
    expect(page.html).toMatch(/<tr data-invoice="INV-NEW">.*?<td class="num">0<\/td>/);
    expect(page.html).toMatch(/<dt>Initially due<\/dt><dd>\$1,000\.00<\/dd>/);
    expect(page.html).toMatch(/<dt>Average days past due<\/dt><dd>12<\/dd>/);
    expect(page.html).toContain(`href="http://temporal-ui.test:8080/namespaces/default/workflows/${encodeURIComponent(workflowIdFor(plan.planId))}"`);
    expect(page.html).toContain('data-step="first_reminder"');
    expect(page.html).toContain('<script src="/assets/htmx.min.js" defer="">');
    const htmx = await b.get('/assets/htmx.min.js');
    expect(htmx.status).toBe(200);
    expect(htmx.html).toContain('htmx');
  });

  it('refuses a promise dated in the past with the plan\'s sentence beside the form, keeping what was typed', async () => {
    const plan = await livePlan();
    const b = await signedIn(h.keys.rep);
    const csrf = b.csrfOf((await b.get(`/plans/${plan.planId}`)).html);
    const res = await b.post(`/plans/${plan.planId}/promise`, { csrf, amount: '123.45', date: dateOffset(-3) });
    expect(res.status).toBe(422);
    const form = promiseForm(res.html);
    expect(form).toContain('class="refusal" role="alert">The promised date must be in the future.</p>');
    expect(form).toContain('value="123.45"');
    expect(form).toContain(`value="${dateOffset(-3)}"`);
    // The same reading as the CLI's: a mistyped amount is refused before the plan is asked.
    const typo = await b.post(`/plans/${plan.planId}/promise`, { csrf, amount: '12,3x', date: dateOffset(3) });
    expect(typo.status).toBe(422);
    expect(promiseForm(typo.html)).toContain('Amount ');
    expect((await planStatus(h.ctx, { planId: plan.planId })).promises).toEqual([]);
  });

  it('records a promise: the page says so, the timeline shows who, and the journey has it', async () => {
    const plan = await livePlan();
    const b = await signedIn(h.keys.rep);
    const csrf = b.csrfOf((await b.get(`/plans/${plan.planId}`)).html);
    const res = await b.post(`/plans/${plan.planId}/promise`, { csrf, amount: '250', date: dateOffset(7) });
    expect(res.status).toBe(303);
    const page = await b.get(res.headers.get('location')!);
    expect(noticeOf(page.html)).toMatch(/^Promise \S+ recorded\.$/);
    expect(page.html).toContain('id="plan-status">promised<');
    expect(page.html).toMatch(/<li data-kind="promise_made">.*recorded by test rep/);
    const state = await h.ctx.client.workflow.getHandle(workflowIdFor(plan.planId)).query(stateQuery);
    expect(state.promises).toHaveLength(1);
    expect(state.promises[0]!.amountMinor).toBe(25_000);
    // A notice in a link someone else made is not shown.
    const forged = await b.get(`/plans/${plan.planId}?done=${encodeURIComponent('Plan written off.')}&sig=abc`);
    expect(noticeOf(forged.html)).toBeUndefined();
  });

  it('adds installment rows one at a time and records them as one promise', async () => {
    const plan = await livePlan();
    const b = await signedIn(h.keys.rep);
    const csrf = b.csrfOf((await b.get(`/plans/${plan.planId}`)).html);
    const more = await b.post(`/plans/${plan.planId}/promise`, { csrf, kind: 'installments', intent: 'add-row' });
    expect(more.status).toBe(200);
    expect(more.html).toContain('id="installment-date-3"');
    const body = new URLSearchParams({ csrf, kind: 'installments', intent: 'record' });
    for (const [date, amount] of [[dateOffset(5), '100'], [dateOffset(15), '150'], ['', '']]) {
      body.append('installmentDate', date!);
      body.append('installmentAmount', amount!);
    }
    const res = await h.api.request(`/plans/${plan.planId}/promise`, {
      method: 'POST',
      headers: { cookie: `${SESSION_COOKIE}=${b.cookie}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
    expect(res.status).toBe(303);
    const view = await planStatus(h.ctx, { planId: plan.planId });
    expect(view.promises[0]!.schedule.map((i) => i.amountMinor)).toEqual([10_000, 15_000]);
  });

  it('escalates, then closes the task as a write-off: the plan is written off and the page has no forms left', async () => {
    const plan = await livePlan();
    const b = await signedIn(h.keys.rep);
    const csrf = b.csrfOf((await b.get(`/plans/${plan.planId}`)).html);
    const escalated = await b.post(`/plans/${plan.planId}/escalate`, { csrf, reason: 'customer asked for a call' });
    expect(escalated.status).toBe(303);
    const page = await b.get(escalated.headers.get('location')!);
    const taskId = /data-task="([^"]+)"/.exec(page.html)![1]!;
    expect(page.html).toMatch(/<li data-kind="escalated">[^\n]*?Escalated by test rep: customer asked for a call<\/li>/);
    const missingNote = await b.post(`/plans/${plan.planId}/tasks/${taskId}/complete`, { csrf, outcome: 'other' });
    expect(missingNote.status).toBe(422);
    expect(missingNote.html).toContain('Say what happened in the note when the outcome is &quot;other&quot;.');
    const done = await b.post(`/plans/${plan.planId}/tasks/${taskId}/complete`, { csrf, outcome: 'write_off', note: 'bankrupt' });
    expect(done.status).toBe(303);
    const closed = await b.get(done.headers.get('location')!);
    expect(closed.html).toContain('id="plan-status">written off<');
    expect(closed.html).not.toContain('id="promise-form"');
    expect(closed.html).toContain('This plan is written off');
    // Who closed it, and the note, are on the timeline.
    expect(closed.html).toMatch(/<li data-kind="task_closed">[^\n]*?done: write_off \(bankrupt\), by test rep<\/li>/);
    expect((await planStatus(h.ctx, { planId: plan.planId })).status).toBe('written_off');
  });

  it('holds one invoice for a dispute and releases it, with the refusal beside the form', async () => {
    const plan = await livePlan();
    const b = await signedIn(h.keys.rep);
    const before = await b.get(`/plans/${plan.planId}`);
    expect(before.html).toContain('id="hold-form"');
    expect(before.html).not.toContain('id="release-form"');
    const csrf = b.csrfOf(before.html);
    const past = await b.post(`/plans/${plan.planId}/hold`, { csrf, invoiceNumber: 'INV-OLD', reason: 'goods returned', until: dateOffset(-2) });
    expect(past.status).toBe(422);
    expect(past.html).toContain('The hold end date must be in the future.');
    const held = await b.post(`/plans/${plan.planId}/hold`, { csrf, invoiceNumber: 'INV-OLD', reason: 'goods returned' });
    expect(held.status).toBe(303);
    const page = await b.get(held.headers.get('location')!);
    expect(page.html).toMatch(/<li data-kind="invoice_held">[^\n]*?Invoice INV-OLD held: goods returned \(by test rep\); the others are still collected<\/li>/);
    expect(page.html).toContain('id="release-form"');
    expect((await planStatus(h.ctx, { planId: plan.planId })).outstandingMinor).toBe(60_000);
    const released = await b.post(`/plans/${plan.planId}/release`, { csrf, invoiceNumber: 'INV-OLD' });
    expect(released.status).toBe(303);
    expect((await b.get(released.headers.get('location')!)).html).toMatch(/<li data-kind="invoice_released">[^\n]*?Invoice INV-OLD released by test rep: collected again<\/li>/);
    const again = await b.post(`/plans/${plan.planId}/release`, { csrf, invoiceNumber: 'INV-OLD' });
    expect(again.status).toBe(409); // as the API answers invoice_not_held
    expect(again.html).toContain('Invoice INV-OLD is not held.');
  });

  it('pauses and resumes, and refuses an action without the CSRF token', async () => {
    const plan = await livePlan();
    const b = await signedIn(h.keys.rep);
    const csrf = b.csrfOf((await b.get(`/plans/${plan.planId}`)).html);
    expect((await b.post(`/plans/${plan.planId}/pause`, { reason: 'dispute' })).status).toBe(403);
    expect((await planStatus(h.ctx, { planId: plan.planId })).status).toBe('in_progress');
    const paused = await b.post(`/plans/${plan.planId}/pause`, { csrf, reason: 'dispute on INV-OLD' });
    expect(paused.status).toBe(303);
    const page = await b.get(paused.headers.get('location')!);
    expect(page.html).toContain('id="plan-status">on hold<');
    expect(page.html).toMatch(/<li data-kind="paused">[^\n]*?Paused by test rep: dispute on INV-OLD<\/li>/);
    expect(page.html).toContain('<dd id="plan-pause">Paused by test rep: dispute on INV-OLD</dd>');
    expect(page.html).toContain('id="resume-form"');
    const resumed = await b.post(`/plans/${plan.planId}/resume`, { csrf });
    expect(resumed.status).toBe(303);
    expect((await b.get(resumed.headers.get('location')!)).html).toContain('id="plan-status">in progress<');
    const again = await b.post(`/plans/${plan.planId}/resume`, { csrf });
    expect(again.status).toBe(409); // as the API answers not_paused
    expect(again.html).toContain('<p id="refusal" class="refusal" role="alert">The plan is not paused.</p>');
  });
});

describe('the rep\'s time zone', () => {
  it('writes times in the zone chosen at sign-in, and refuses a zone that does not exist', async () => {
    const plan = await createPlan(h.ctx.db, { invoices: [{ amountMinor: 10_000, dueOn: dateOffset(-3) }] });
    await initiateDunning(h.ctx, { planId: plan.planId });
    await h.untilBegun(plan.planId);
    const [first] = (await planStatus(h.ctx, { planId: plan.planId })).timeline;
    const b = browser();
    expect((await b.post('/sign-in', { key: h.keys.rep, timeZone: 'Asia/Kolkata' })).status).toBe(303);
    const page = await b.get(`/plans/${plan.planId}`);
    expect(page.html).toContain('Signed in as test rep (Asia/Kolkata)');
    const kolkata = new Intl.DateTimeFormat('en-US', { hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Kolkata' }).format(new Date(first!.at));
    expect(page.html).toContain(`<time datetime="${first!.at}">`);
    expect(page.html).toMatch(new RegExp(`<time datetime="${first!.at}">[^<]*${kolkata}[^<]*GMT\\+5:30</time>`));
    const refused = await browser().post('/sign-in', { key: h.keys.rep, timeZone: 'Mars/Olympus' });
    expect(refused.status).toBe(401);
    expect(refused.html).toContain('&quot;Mars/Olympus&quot; is not an IANA time zone like Europe/Berlin.');
    expect(refused.headers.get('set-cookie')).toBeNull();
  });
});
