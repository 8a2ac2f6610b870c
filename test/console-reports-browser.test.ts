// The console's reports page in a real browser (Debian's Chromium) against the real stack over
// HTTP: ops reach it from the worklist's nav, filter it with its form, and it has no serious
// accessibility violations and no console errors, with charts drawn and with a filter refused.
import { randomUUID } from 'node:crypto';
import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { serveHttp, type HttpServer } from '../client/http/server';
import { setPolicy } from '../client/policies';
import { collectionPlans, paymentPromises, payments } from '../db/schema';
import { seriousAxeViolations, useBrowser } from './browser';
import { createPlan, dateOffset, secondsPolicy } from './fixtures';
import { startApiHarness, type ApiHarness } from './http-support';

let h: ApiHarness;
let server: HttpServer;
const run = randomUUID().slice(0, 6);
// Other suites share the database: the page is read under this run's own policy.
const policy = `browser-page-${run}`;

beforeAll(async () => {
  h = await startApiHarness('console-reports-browser');
  server = await serveHttp(h.api, { host: '127.0.0.1', port: 0 });
  await setPolicy(h.ctx, { policy: secondsPolicy(policy, { upcoming_notice: 3600 }) });
  // A dollar plan and a euro plan, each with something past due, something paid and a promise.
  for (const [currency, rep] of [['USD', 'Ana'], ['EUR', 'Ben']] as const) {
    const plan = await createPlan(h.ctx.db, {
      timezone: 'UTC',
      currency,
      invoices: [
        { amountMinor: 40_000, dueOn: dateOffset(-40), issuedOn: dateOffset(-70) },
        { amountMinor: 10_000, dueOn: dateOffset(10), issuedOn: dateOffset(-20) },
      ],
    });
    const at = new Date(Date.now() - 7 * 86_400_000);
    await h.ctx.db.update(collectionPlans).set({ policyName: policy, status: 'in_progress', initiatedAt: at }).where(inArray(collectionPlans.id, [plan.planId]));
    await h.ctx.db.insert(payments).values({ id: `${plan.planId}-pay`, planId: plan.planId, amountMinor: 25_000, currency, receivedAt: new Date() });
    await h.ctx.db.insert(paymentPromises).values([
      { id: `${plan.planId}-p1`, planId: plan.planId, amountMinor: 1_000, dueOn: new Date(), status: 'kept', rep },
      { id: `${plan.planId}-p2`, planId: plan.planId, amountMinor: 1_000, dueOn: new Date(), status: 'broken', rep },
    ]);
  }
});
afterAll(async () => {
  await server?.close();
  await h?.close();
});

const browser = useBrowser(() => ({ baseURL: server.url, timezoneId: 'Europe/Berlin' }));

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto('/sign-in');
  await page.getByLabel('API key').fill(key);
  await Promise.all([page.waitForURL((url) => url.pathname === '/'), page.getByRole('button', { name: 'Sign in' }).click()]);
}

describe('the reports page in a browser', () => {
  it('is reached from the worklist by ops, and filtered with its form', async () => {
    const { page, problems } = browser.current();
    await signIn(page, h.keys.ops);
    await Promise.all([page.waitForURL((url) => url.pathname === '/reports'), page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Reports' }).click()]);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Reports');
    await page.getByLabel('Policy', { exact: true }).fill(policy);
    await page.getByLabel('Currency', { exact: true }).fill('eur');
    await Promise.all([page.waitForURL((url) => url.searchParams.get('currency') === 'eur'), page.getByRole('button', { name: 'Filter' }).click()]);
    // The chart is an image named by its title; the euro bar alone is drawn.
    await expect(page.getByRole('img', { name: 'Open amount by days past due, one bar per currency' }).count()).resolves.toBe(1);
    await expect(page.locator('#aging-chart g.bar').evaluateAll((bars) => bars.map((b) => b.getAttribute('data-currency')))).resolves.toEqual(['EUR']);
    await expect(page.locator('[data-report-table="aging"] tbody tr').first().textContent()).resolves.toContain('€500.00');
    await expect(page.getByLabel('Currency', { exact: true }).inputValue()).resolves.toBe('EUR');
    expect(problems).toEqual([]);
  });

  it('shows a rep the refusal and no link to it', async () => {
    const { page } = browser.current();
    await signIn(page, h.keys.rep);
    await expect(page.getByRole('link', { name: 'Reports' }).count()).resolves.toBe(0);
    const response = await page.goto('/reports');
    expect(response?.status()).toBe(403);
    await expect(page.getByRole('alert').textContent()).resolves.toBe('The rep role may not see the reports; they are for ops keys.');
  });
});

describe('accessibility', () => {
  it('has no serious or critical axe violations and no console errors, with every chart drawn', async () => {
    const { page, problems } = browser.current();
    await signIn(page, h.keys.ops);
    await page.goto(`/reports?policy=${policy}`);
    await expect(page.locator('svg[role="img"]').count()).resolves.toBeGreaterThanOrEqual(3);
    await expect(seriousAxeViolations(page)).resolves.toEqual([]);
    expect(problems).toEqual([]);
  });

  it('has none with a filter refused beside the form', async () => {
    const { page, problems } = browser.current();
    await signIn(page, h.keys.ops);
    const response = await page.goto('/reports?from=2026-03-10&to=2026-03-01');
    expect(response?.status()).toBe(422);
    await expect(page.getByRole('alert').textContent()).resolves.toBe('"from" (2026-03-10) is after "to" (2026-03-01).');
    await expect(seriousAxeViolations(page)).resolves.toEqual([]);
    // Chromium reports the 422 itself as a failed resource; nothing else may go wrong.
    expect(problems.filter((p) => !p.text.includes('422'))).toEqual([]);
  });
});
