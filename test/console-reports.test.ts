// The console's reports page over HTTP on the real stack: an ops session sees every report of a
// seeded scenario, drawn and tabled, with figures worked out by hand below; a rep is refused in
// a sentence; a bad filter is refused with the sentence the CLI and the API give. As in
// test/reports.test.ts, plans are imported through the real import code and what a journey
// would have written since is written straight to its tables. Other suites share the database,
// so the page is read under this run's own policy.
import { randomUUID } from 'node:crypto';
import { inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportsPage } from '../client/console/reports-page';
import { setPolicy } from '../client/policies';
import type { Report } from '../client/reports';
import { collectionPlans, orchestrationSteps, paymentPromises, payments } from '../db/schema';
import { consoleBrowser, signedInConsole, type Page } from './console-support';
import { createPlan, dateOffset, secondsPolicy } from './fixtures';
import { startApiHarness, type ApiHarness } from './http-support';

let h: ApiHarness;
const run = randomUUID().slice(0, 6);
const policy = `page-${run}`;
const day = 86_400_000;

/** A plan under the scenario's policy, initiated at `at`, with `paid` payments (days after initiation). */
async function scenarioPlan(p: {
  currency: string;
  /** Open amounts by days until due (negative: past due). */
  invoices: Array<[dueInDays: number, amountMinor: number]>;
  at: Date;
  paid?: Array<[days: number, amountMinor: number]>;
  resolvedAfterDays?: number;
}) {
  const plan = await createPlan(h.ctx.db, {
    timezone: 'UTC',
    currency: p.currency,
    invoices: p.invoices.map(([dueIn, amountMinor]) => ({ amountMinor, dueOn: dateOffset(dueIn), issuedOn: dateOffset(dueIn - 30) })),
  });
  await h.ctx.db.update(collectionPlans).set({ policyName: policy, policyVersion: 1, status: 'in_progress', initiatedAt: p.at }).where(inArray(collectionPlans.id, [plan.planId]));
  for (const [i, [days, amountMinor]] of (p.paid ?? []).entries()) {
    await h.ctx.db.insert(payments).values({ id: `${plan.planId}-pay-${i}`, planId: plan.planId, amountMinor, currency: p.currency, receivedAt: new Date(p.at.getTime() + days * day) });
  }
  if (p.resolvedAfterDays !== undefined) {
    await h.ctx.db.execute(sql`update invoices set open_minor = 0, status = 'paid' where account_id = ${plan.accountId}`);
    await h.ctx.db.update(collectionPlans).set({ status: 'resolved', closedAt: new Date(p.at.getTime() + p.resolvedAfterDays * day) }).where(inArray(collectionPlans.id, [plan.planId]));
  }
  return plan;
}

beforeAll(async () => {
  h = await startApiHarness('console-reports');
  await setPolicy(h.ctx, { policy: secondsPolicy(policy, { upcoming_notice: 3600 }) });
  // A, USD, initiated Tuesday 3 March 2026: not yet due 100.00, 1–30 200.00, 31–60 300.00,
  // 90+ 400.00 still open (1,000.00); 500.00 paid a day after initiation, so 1,500.00 entered.
  const a = await scenarioPlan({ currency: 'USD', invoices: [[5, 10_000], [-10, 20_000], [-45, 30_000], [-100, 40_000]], at: new Date('2026-03-03T10:00:00Z'), paid: [[1, 50_000]] });
  // B, EUR, initiated Tuesday 10 March: 1–30 150.00, 61–90 50.00 open; 200.00 paid; 400.00 entered.
  // A's notice went out half a day after initiation, before its payment: that payment is the notice's (steps report).
  // Still ahead of A (the forecast): two reminders tomorrow at noon and 13:00 UTC, the escalation task in three days.
  const ahead = (days: number, hour: number) => new Date(Date.parse(`${dateOffset(days)}T00:00:00Z`) + hour * 3_600_000);
  await h.ctx.db.insert(orchestrationSteps).values([
    { planId: a.planId, key: 'upcoming_notice', ordinal: 0, action: 'email', status: 'completed', completedAt: new Date('2026-03-03T22:00:00Z') },
    { planId: a.planId, key: 'first_reminder', ordinal: 1, action: 'email', status: 'waiting', scheduledFor: ahead(1, 12) },
    { planId: a.planId, key: 'second_reminder', ordinal: 2, action: 'email', status: 'pending', scheduledFor: ahead(1, 13) },
    { planId: a.planId, key: 'manual_escalation', ordinal: 3, action: 'task', status: 'pending', scheduledFor: ahead(3, 12) },
  ]);
  const b = await scenarioPlan({ currency: 'EUR', invoices: [[-5, 15_000], [-70, 5_000]], at: new Date('2026-03-10T10:00:00Z'), paid: [[3, 20_000]] });
  // C, USD, week of 2 March: 600.00 paid in full in 2 days. D, USD, week of 9 March: 300.00 in 1 day.
  // Both resolved: no longer aged, but counted in recovery.
  await scenarioPlan({ currency: 'USD', invoices: [[-20, 60_000]], at: new Date('2026-03-04T08:00:00Z'), paid: [[2, 60_000]], resolvedAfterDays: 2 });
  await scenarioPlan({ currency: 'USD', invoices: [[-20, 30_000]], at: new Date('2026-03-11T08:00:00Z'), paid: [[1, 30_000]], resolvedAfterDays: 1 });

  // Ana: 2 kept, 1 broken. Ben: 1 broken, 1 open.
  let n = 0;
  const promise = (planId: string, rep: string, status: 'open' | 'kept' | 'broken') => ({
    id: `${run}-promise-${++n}`,
    planId,
    amountMinor: 1_000,
    dueOn: new Date('2026-03-20T12:00:00Z'),
    status,
    rep,
    createdAt: new Date('2026-03-12T12:00:00Z'),
  });
  await h.ctx.db.insert(paymentPromises).values([
    promise(a.planId, 'Ana', 'kept'),
    promise(b.planId, 'Ana', 'kept'),
    promise(a.planId, 'Ana', 'broken'),
    promise(a.planId, 'Ben', 'broken'),
    promise(b.planId, 'Ben', 'open'),
  ]);
});
afterAll(async () => {
  await h?.close();
});

const ops = () => signedInConsole(h.api, h.keys.ops);

/** The HTML of one report's section. */
function section(page: Page, report: string): string {
  const match = new RegExp(`<section[^>]*data-report="${report}"[^>]*>([\\s\\S]*?)</section>`).exec(page.html);
  if (!match) throw new Error(`No ${report} section on the page:\n${page.html.slice(0, 2000)}`);
  return match[1]!;
}

const text = (html: string) => html.replace(/<[^>]*>/g, '').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/&quot;/g, '"').trim();

/** A section's table as rows of cell texts, the header first. */
function tableOf(html: string): string[][] {
  const table = /<table[\s\S]*?<\/table>/.exec(html)?.[0] ?? '';
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map(([, row]) => [...row!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map(([, cell]) => text(cell!)));
}

interface Segment {
  series: string;
  value: number;
  x: number;
  width: number;
  /** The data attributes of the bar the segment belongs to. */
  bar: Record<string, string>;
}

/** The bar segments of every chart in the HTML, with the data attributes of their bar. */
function segmentsOf(html: string): Segment[] {
  const attrs = (tag: string) => Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map(([, k, v]) => [k!, v!]));
  return [...html.matchAll(/<g class="bar"([^>]*)>([\s\S]*?)<\/g>/g)].flatMap(([, barTag, inner]) => {
    const bar = Object.fromEntries(Object.entries(attrs(barTag!)).filter(([k]) => k.startsWith('data-')).map(([k, v]) => [k.slice(5), v]));
    return [...inner!.matchAll(/<rect([^>]*data-series[^>]*)>/g)].map(([, tag]) => {
      const a = attrs(tag!);
      return { series: a['data-series']!, value: Number(a['data-value']), x: Number(a.x), width: Number(a.width), bar };
    });
  });
}

/** What a full bar is wide in the charts' drawing units. */
const BAR_WIDTH = 380;

describe('the reports page for ops', () => {
  let page: Page;
  beforeAll(async () => {
    page = await (await ops()).get(`/reports?policy=${policy}`);
  });

  it('shows every report, each as a chart that is an image with a title, then its table', () => {
    expect(page.status).toBe(200);
    expect([...page.html.matchAll(/<section[^>]*data-report="(\w+)"/g)].map(([, name]) => name)).toEqual(['aging', 'promises', 'recovery', 'steps', 'forecast']);
    for (const report of ['aging', 'promises', 'recovery', 'steps', 'forecast']) {
      const html = section(page, report);
      const svg = /<svg([^>]*)>([\s\S]*?)<\/svg>/.exec(html);
      expect(svg?.[1]).toContain('role="img"');
      // Named by the chart's visible caption, with the same words as its own title.
      const titleId = /aria-labelledby="([^"]+)"/.exec(svg![1]!)![1];
      const caption = new RegExp(`<span class="chart-title" id="${titleId}">([^<]+)</span>`).exec(html)?.[1];
      expect(caption).toBeTruthy();
      expect(svg![2]).toContain(`<title>${caption}</title>`);
      expect(html.indexOf('<table')).toBeGreaterThan(html.indexOf('</svg>'));
    }
    // The filter the page was read under stays in its form.
    expect(page.html).toContain(`id="policy" name="policy" list="policy-names" value="${policy}"`);
  });

  it('ages what is open per currency, each currency its own bar, never added together', () => {
    const html = section(page, 'aging');
    expect(tableOf(html)).toEqual([
      ['Currency', 'Plans', 'Not yet due', '1–30', '31–60', '61–90', '90+', 'Total'],
      ['EUR', '1', '€0.00', '€150.00', '€0.00', '€50.00', '€0.00', '€200.00'],
      ['USD', '1', '$100.00', '$200.00', '$300.00', '$0.00', '$400.00', '$1,000.00'],
    ]);
    const segments = segmentsOf(html);
    // A segment per bucket with money in it: two for EUR, four for USD.
    expect(segments.map((s) => [s.bar.currency, s.series, s.value])).toEqual([
      ['EUR', 'days1to30Minor', 15_000],
      ['EUR', 'days61to90Minor', 5_000],
      ['USD', 'notDueMinor', 10_000],
      ['USD', 'days1to30Minor', 20_000],
      ['USD', 'days31to60Minor', 30_000],
      ['USD', 'over90Minor', 40_000],
    ]);
    // Each bar is its currency's own total at full width: 150 of 200 euros is three quarters.
    const width = (currency: string, series: string) => segments.find((s) => s.bar.currency === currency && s.series === series)!.width;
    expect(width('EUR', 'days1to30Minor')).toBeCloseTo(BAR_WIDTH * 0.75, 1);
    expect(width('EUR', 'days61to90Minor')).toBeCloseTo(BAR_WIDTH * 0.25, 1);
    expect(width('USD', 'over90Minor')).toBeCloseTo(BAR_WIDTH * 0.4, 1);
    expect(width('USD', 'over90Minor') / width('USD', 'notDueMinor')).toBeCloseTo(4, 2);
    // Segments follow each other without a gap.
    const usd = segments.filter((s) => s.bar.currency === 'USD');
    for (let i = 1; i < usd.length; i++) expect(usd[i]!.x).toBeCloseTo(usd[i - 1]!.x + usd[i - 1]!.width, 1);
    expect(text(html)).toContain('$1,000.00 · 1 plan');
    expect(text(html)).toContain('€200.00 · 1 plan');
  });

  it('draws kept, broken and pending promises per rep on one scale', () => {
    const html = section(page, 'promises');
    expect(tableOf(html)).toEqual([
      ['Rep', 'Made', 'Kept', 'Broken', 'Pending', 'Kept rate'],
      ['Ana', '3', '2', '1', '0', '66.7 %'],
      ['Ben', '2', '0', '1', '1', '0.0 %'],
    ]);
    // The longest bar is Ana's 3 promises: one promise is a third of the width.
    const third = BAR_WIDTH / 3;
    expect(segmentsOf(html).map((s) => [s.bar.rep, s.series, s.value, s.width])).toEqual([
      ['Ana', 'kept', 2, expect.closeTo(2 * third, 1)],
      ['Ana', 'broken', 1, expect.closeTo(third, 1)],
      ['Ben', 'broken', 1, expect.closeTo(third, 1)],
      ['Ben', 'pending', 1, expect.closeTo(third, 1)],
    ]);
  });

  it('draws the recovery rate per currency and initiation week, a chart per policy', () => {
    const html = section(page, 'recovery');
    // USD, week of 2 March: A entered 1,500.00 (500.00 back), C 600.00 (all back): 1,100.00 of 2,100.00.
    // Week of 9 March: D, 300.00 of 300.00. All weeks: 1,400.00 of 2,400.00; C and D resolved in 2
    // and 1 days: median 1.5, p90 1 + 0.9 × 1 = 1.9. EUR: B, 200.00 of 400.00.
    expect(tableOf(html)).toEqual([
      ['Policy', 'Version', 'Currency', 'Week', 'Plans', 'Entering', 'Recovered', 'Rate', 'Resolved', 'Median days', 'P90 days'],
      [policy, 'v1', 'EUR', '2026-03-09', '1', '€400.00', '€200.00', '50.0 %', '0', '—', '—'],
      [policy, 'v1', 'EUR', 'all weeks', '1', '€400.00', '€200.00', '50.0 %', '0', '—', '—'],
      [policy, 'v1', 'USD', '2026-03-02', '2', '$2,100.00', '$1,100.00', '52.4 %', '1', '2.00', '2.00'],
      [policy, 'v1', 'USD', '2026-03-09', '1', '$300.00', '$300.00', '100.0 %', '1', '1.00', '1.00'],
      [policy, 'v1', 'USD', 'all weeks', '3', '$2,400.00', '$1,400.00', '58.3 %', '2', '1.50', '1.90'],
    ]);
    // One chart for the policy, a bar per currency and week; the all-weeks rows are in the table only.
    expect([...html.matchAll(/<figure class="chart" id="(recovery-chart-\d+)">/g)].map(([, id]) => id)).toEqual(['recovery-chart-1']);
    expect(html).toContain(`<span class="chart-title" id="recovery-chart-1-title">Recovery rate by initiation week, policy ${policy}, v1</span>`);
    expect(segmentsOf(html).map((s) => [s.bar.currency, s.bar.week, s.value, s.width])).toEqual([
      ['EUR', '2026-03-09', 0.5, expect.closeTo(BAR_WIDTH / 2, 1)],
      ['USD', '2026-03-02', 1_100 / 2_100, expect.closeTo((BAR_WIDTH * 11) / 21, 1)],
      ['USD', '2026-03-09', 1, expect.closeTo(BAR_WIDTH, 1)],
    ]);
    expect(text(html)).toContain('52.4 % of $2,100.00');
  });

  it('draws which step worked: per policy version and currency, the share of plans that paid after each step', () => {
    const html = section(page, 'steps');
    // EUR: B paid with no step done. USD: C and D paid before any step (2 of 3 plans, 900.00); A after its notice (1 of 1, 500.00).
    expect([...html.matchAll(/<span class="chart-title" id="steps-chart-\d+-title">([^<]+)<\/span>/g)].map(([, t]) => t)).toEqual([
      `Plans that paid after each step, policy ${policy} v1, EUR`,
      `Plans that paid after each step, policy ${policy} v1, USD`,
    ]);
    expect(segmentsOf(html).map((s) => [s.bar.currency, s.bar.step, s.value, s.width])).toEqual([
      ['EUR', '', 1, expect.closeTo(BAR_WIDTH, 1)],
      ['USD', '', 2 / 3, expect.closeTo((BAR_WIDTH * 2) / 3, 1)],
      ['USD', 'upcoming_notice', 1, expect.closeTo(BAR_WIDTH, 1)],
    ]);
    expect(text(html)).toContain('2 of 3 paid · $900.00');
    expect(tableOf(html)[3]).toEqual([policy, 'v1', 'USD', 'upcoming_notice', 'email', '1', '1', '0', '$500.00', '100.0 %']);
  });

  it('forecasts the next 30 days: a bar per day of emails and tasks, the busiest day\'s drain time, the plans left out', () => {
    const html = section(page, 'forecast');
    // A: two emails tomorrow, a task in three days. B is under an open promise: left out. C and D are closed.
    expect(segmentsOf(html).map((s) => [s.bar.date, s.series, s.value, s.width])).toEqual([
      [dateOffset(1), 'emails', 2, expect.closeTo(BAR_WIDTH, 1)],
      [dateOffset(3), 'tasks', 1, expect.closeTo(BAR_WIDTH / 2, 1)],
    ]);
    const rows = tableOf(html);
    expect(rows[0]).toEqual(['Date (UTC)', 'Emails', 'Tasks']);
    expect(rows.slice(1, 5)).toEqual([
      [dateOffset(0), '0', '0'],
      [dateOffset(1), '2', '0'],
      [dateOffset(2), '0', '0'],
      [dateOffset(3), '0', '1'],
    ]);
    expect(rows).toHaveLength(31);
    expect(text(html)).toContain(`The busiest day, ${dateOffset(1)}, has 2 emails: about`);
    expect(text(html)).toContain('Not counted: 1 plan under a promise; they send nothing until the pause or the promise ends.');
  });

  it('narrows promises and recovery by period, and says aging is not narrowed by it', async () => {
    const since = await (await ops()).get(`/reports?policy=${policy}&from=2026-03-09&to=2026-03-31`);
    expect(since.status).toBe(200);
    expect(text(section(since, 'aging'))).toContain('Not narrowed by from and to: this report does not take them.');
    expect(tableOf(section(since, 'aging'))).toHaveLength(3);
    expect(tableOf(section(since, 'recovery')).map((r) => r.slice(2, 5))).toEqual([
      ['Currency', 'Week', 'Plans'],
      ['EUR', '2026-03-09', '1'],
      ['EUR', 'all weeks', '1'],
      ['USD', '2026-03-09', '1'],
      ['USD', 'all weeks', '1'],
    ]);
    // The promises were all made on 12 March: none before the 9th.
    const before = await (await ops()).get(`/reports?policy=${policy}&to=2026-03-08`);
    expect(text(section(before, 'promises'))).toContain('No figures for the promises report under these filters.');
    expect(section(before, 'promises')).not.toContain('<svg');
  });

  it('reads a currency typed in small letters as the worklist does', async () => {
    const eur = await (await ops()).get(`/reports?policy=${policy}&currency=eur`);
    expect(eur.status).toBe(200);
    expect(tableOf(section(eur, 'aging')).slice(1).map((r) => r[0])).toEqual(['EUR']);
    expect(eur.html).toContain('id="currency" name="currency" size="4" maxlength="3" pattern="[A-Za-z]{3}" value="EUR"');
  });

  it('refuses a bad filter with the sentence the CLI and the API give, beside the form (422)', async () => {
    const b = await ops();
    for (const [query, sentence] of [
      ['currency=dollars', 'The currency must be a three-letter code like USD, not "dollars".'],
      ['from=2026-02-30', '"from" must be a date like 2026-12-15, not "2026-02-30".'],
      ['from=2026-03-10&to=2026-03-01', '"from" (2026-03-10) is after "to" (2026-03-01).'],
      ['policy=no-such-policy', 'Unknown policy "no-such-policy"; see `dunning policy list`.'],
    ] as const) {
      const refused = await b.get(`/reports?${query}`);
      expect(refused.status).toBe(422);
      const alert = /<p id="filter-refusal" class="refusal" role="alert">([^<]*)<\/p>/.exec(refused.html);
      expect(text(alert?.[1] ?? '')).toBe(sentence);
      // Inside the form it is about, which names it, and no report is drawn from a filter refused.
      expect(refused.html).toMatch(/<form class="filters"[^>]*aria-describedby="filter-refusal"[\s\S]*id="filter-refusal"[\s\S]*<\/form>/);
      expect(refused.html).not.toContain('data-report=');
      // The API says the same of the same filter.
      const api = await h.call('GET', `/v1/reports/promises?${query}`, { as: 'ops' });
      expect(api.body.detail).toBe(sentence);
    }
  });
});

describe('who may see the reports', () => {
  it('refuses a rep with a sentence (403), and shows a rep no link to the page', async () => {
    const rep = await signedInConsole(h.api, h.keys.rep);
    const refused = await rep.get('/reports');
    expect(refused.status).toBe(403);
    expect(refused.html).toContain('<p class="refusal" role="alert">The rep role may not see the reports; they are for ops keys.</p>');
    expect(refused.html).not.toContain('data-report=');
    expect((await rep.get('/')).html).not.toContain('href="/reports"');
  });

  it('links ops to the page from the worklist, and the page marks itself as the current one', async () => {
    const b = await ops();
    expect((await b.get('/')).html).toMatch(/<nav aria-label="Console"[\s\S]*<a href="\/reports">Reports<\/a>/);
    expect((await b.get('/reports')).html).toContain('<a href="/reports" aria-current="page">Reports</a>');
  });

  it('sends a visitor without a session to sign in', async () => {
    const res = await consoleBrowser(h.api).get('/reports');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/sign-in');
  });
});

describe('a report the page has no view for yet', () => {
  it('shows its rows as a table of its fields, money in the row\'s currency, and extra fields of a known report do no harm', async () => {
    // As a report added on the service before the page or the CLI know it would arrive.
    const reports = [
      { report: 'outlook', rows: [{ stepKey: 'reminder', currency: 'EUR', sent: 3, paidAfterMinor: 12_345, rate: null }] },
      { report: 'promises', rows: [{ rep: 'Ana', made: 1, kept: 1, broken: 0, pending: 0, keptRate: 1, team: 'north' }] },
    ] as unknown as Report[];
    const html = String(await ReportsPage({ reports, filter: {}, policies: [], signedInAs: { name: 'ops', role: 'ops', csrfToken: 'x', timeZone: 'UTC' } }));
    const page = { status: 200, headers: new Headers(), html };
    expect(tableOf(section(page, 'outlook'))).toEqual([
      ['Step key', 'Currency', 'Sent', 'Paid after', 'Rate'],
      ['reminder', 'EUR', '3', '€123.45', '—'],
    ]);
    expect(text(section(page, 'outlook'))).toMatch(/^Outlook/);
    expect(segmentsOf(section(page, 'promises')).map((s) => s.series)).toEqual(['kept']);
  });
});
