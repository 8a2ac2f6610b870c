// The rep console in a real browser (Debian's Chromium) against the real stack over HTTP: what
// a rep notices — signing in and out, a refused key's sentence, the worklist's order and the
// rule that explains it, filters and search, a form without its CSRF token refused, no serious
// accessibility violations, no console errors, and the sign-in done by keyboard alone.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { SESSION_COOKIE } from '../client/console/routes';
import { serveHttp, type HttpServer } from '../client/http/server';
import { priorityRule } from '../client/worklist';
import { tasks } from '../db/schema';
import type { TaskKind } from '../workflows/domain/statuses';
import { focusedElement, seriousAxeViolations, useBrowser } from './browser';
import { createPlan, dateOffset } from './fixtures';
import { startApiHarness, type ApiHarness } from './http-support';

let h: ApiHarness;
let server: HttpServer;

// Other suites share the database: every account here carries a tag the tests search for.
const tag = `BR${randomUUID().slice(0, 6)}`;
type Seeded = 'broken' | 'larger' | 'euro';
const seeded = {} as Record<Seeded, { planId: string; accountId: string; accountName: string }>;

async function seed(name: Seeded, accountName: string, opts: { amountMinor: number; dueIn: number; kinds: TaskKind[]; currency?: string; locale?: string }) {
  const fullName = `${tag} ${accountName}`;
  const plan = await createPlan(h.ctx.db, {
    accountName: fullName,
    currency: opts.currency,
    locale: opts.locale,
    invoices: [{ amountMinor: opts.amountMinor, dueOn: dateOffset(opts.dueIn), issuedOn: dateOffset(-60) }],
  });
  await h.ctx.db.insert(tasks).values(opts.kinds.map((kind) => ({ id: `${plan.planId}-${kind}`, planId: plan.planId, kind, reason: `seeded ${kind}` })));
  seeded[name] = { ...plan, accountName: fullName };
}

beforeAll(async () => {
  h = await startApiHarness('console-browser');
  server = await serveHttp(h.api, { host: '127.0.0.1', port: 0 });
  // A broken promise of $100 five days late outranks a $2,000 escalation ten days late
  // (2,000,000 on the owed × days scale); the euro account is third (500 × 20 = 1,000,000).
  await seed('broken', 'Bluebird Bakery', { amountMinor: 10_000, dueIn: -5, kinds: ['promise_broken'] });
  await seed('larger', 'Larkspur Logistics', { amountMinor: 200_000, dueIn: -10, kinds: ['manual_escalation'] });
  await seed('euro', 'Edelweiss Elektro GmbH', { amountMinor: 50_000, dueIn: -20, kinds: ['opted_out'], currency: 'EUR', locale: 'de-DE' });
});
afterAll(async () => {
  await server?.close();
  await h?.close();
});

const browser = useBrowser(() => ({ baseURL: server.url, timezoneId: 'Europe/Berlin' }));

const path = (page: Page) => new URL(page.url()).pathname;

/** Fills the sign-in form and submits it with a click; resolves when the next page has loaded. */
async function signIn(page: Page, key: string): Promise<void> {
  await page.goto('/sign-in');
  await page.getByLabel('API key').fill(key);
  await Promise.all([page.waitForURL((url) => url.pathname === '/' || url.pathname === '/sign-in', { waitUntil: 'load' }), page.getByRole('button', { name: 'Sign in' }).click()]);
}

/** The plan ids of the worklist's rows, top to bottom. */
const rowsOf = (page: Page) => page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => String(r.getAttribute('data-plan'))));

async function sessionCookie(): Promise<string | undefined> {
  const cookies = await browser.current().context.cookies();
  return cookies.find((c) => c.name === SESSION_COOKIE)?.value;
}

describe('signing in and out', () => {
  it('signs a rep in to the worklist and out again: the cookie is gone and the worklist sends them to sign in', async () => {
    const { page, problems } = browser.current();
    await signIn(page, h.keys.rep);
    expect(path(page)).toBe('/');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Worklist');
    await expect(page.getByText('Signed in as test rep').count()).resolves.toBe(1);
    const cookie = (await browser.current().context.cookies()).find((c) => c.name === SESSION_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

    await Promise.all([page.waitForURL((url) => url.pathname === '/sign-in'), page.getByRole('button', { name: 'Sign out' }).click()]);
    await expect(sessionCookie()).resolves.toBeUndefined();
    await page.goto('/');
    expect(path(page)).toBe('/sign-in');
    await expect(page.getByLabel('API key').isVisible()).resolves.toBe(true);
    expect(problems).toEqual([]);
  });

  it('refuses a billing key with its sentence on the sign-in form, and opens no session', async () => {
    const { page } = browser.current();
    await signIn(page, h.keys.billing);
    expect(path(page)).toBe('/sign-in');
    const alert = page.getByRole('alert');
    await expect(alert.textContent()).resolves.toBe('The billing role may not sign in to the console; it is for rep and ops keys.');
    // The refusal is tied to the field it is about, for a screen reader.
    await expect(page.getByLabel('API key').getAttribute('aria-describedby')).resolves.toBe('refusal');
    await expect(sessionCookie()).resolves.toBeUndefined();
    await page.goto('/');
    expect(path(page)).toBe('/sign-in');
  });

  it('signs in by keyboard alone, with a visible focus ring on every control it passes', async () => {
    const { page, problems } = browser.current();
    await page.goto('/sign-in');
    // The key field has focus on arrival; the rep types, tabs through the zone (the browser's
    // own, preselected) to the button and presses Enter.
    await expect(focusedElement(page)).resolves.toMatchObject({ element: 'input#key' });
    await page.keyboard.type(h.keys.rep);
    await expect(page.locator('#timeZone').inputValue()).resolves.toBe('Europe/Berlin');
    for (const expected of ['select#timeZone', 'button']) {
      await page.keyboard.press('Tab');
      const focused = await focusedElement(page);
      expect(focused.element).toBe(expected);
      expect(focused.outlineStyle).not.toBe('none');
      expect(focused.outlineWidthPx).toBeGreaterThanOrEqual(2);
    }
    await Promise.all([page.waitForURL((url) => url.pathname === '/'), page.keyboard.press('Enter')]);
    await expect(page.getByText('Signed in as test rep').count()).resolves.toBe(1);
    expect(problems).toEqual([]);
  });
});

describe('the worklist', () => {
  it('puts a small broken promise above a larger plain escalation, and shows the rule that explains it', async () => {
    const { page, problems } = browser.current();
    await signIn(page, h.keys.rep);
    await page.getByLabel('Account name or id').fill(tag);
    await Promise.all([page.waitForURL((url) => url.searchParams.get('search') === tag), page.getByRole('button', { name: 'Filter' }).click()]);
    await expect(rowsOf(page)).resolves.toEqual([seeded.broken.planId, seeded.larger.planId, seeded.euro.planId]);
    const [first, second] = [page.locator('tbody tr').nth(0), page.locator('tbody tr').nth(1)];
    await expect(first.textContent()).resolves.toContain('$100.00');
    await expect(first.textContent()).resolves.toContain('promise broken');
    await expect(second.textContent()).resolves.toContain('$2,000.00');
    await expect(page.locator('#priority').textContent()).resolves.toBe(priorityRule);
    expect(priorityRule).toContain('Plans with a broken promise come first');
    expect(problems).toEqual([]);
  });

  it('filters by task kind and searches by account name', async () => {
    const { page, problems } = browser.current();
    await signIn(page, h.keys.rep);
    await page.getByLabel('Account name or id').fill(tag);
    await page.getByLabel('Task kind').selectOption('manual_escalation');
    await Promise.all([page.waitForURL((url) => url.searchParams.get('taskKind') === 'manual_escalation'), page.getByRole('button', { name: 'Filter' }).click()]);
    await expect(rowsOf(page)).resolves.toEqual([seeded.larger.planId]);
    // The form keeps what was chosen, so the rep sees which filter is on.
    await expect(page.getByLabel('Task kind').inputValue()).resolves.toBe('manual_escalation');

    await page.getByRole('link', { name: 'Clear filters' }).click();
    await page.waitForURL((url) => url.search === '');
    await page.getByLabel('Account name or id').fill('edelweiss elektro');
    await Promise.all([page.waitForURL((url) => url.searchParams.get('search') === 'edelweiss elektro'), page.getByRole('button', { name: 'Filter' }).click()]);
    // Other suites' plans share the database; none of them is an Edelweiss with this tag.
    const rows = await rowsOf(page);
    expect(rows).toContain(seeded.euro.planId);
    await expect(page.locator(`tr[data-plan="${seeded.euro.planId}"]`).textContent()).resolves.toContain(seeded.euro.accountName);
    await expect(page.locator(`tr[data-plan="${seeded.euro.planId}"]`).textContent()).resolves.toMatch(/500,00\s€/);
    expect(rows).not.toContain(seeded.broken.planId);
    expect(problems).toEqual([]);
  });

  it('refuses a form sent without the session\'s CSRF token, and the session lives on', async () => {
    const { page } = browser.current();
    await signIn(page, h.keys.rep);
    const removed = await page.locator('form[action="/sign-out"] input[name="csrf"]').evaluate((input) => {
      input.remove();
      return true;
    });
    expect(removed).toBe(true);
    const [response] = await Promise.all([page.waitForResponse((res) => new URL(res.url()).pathname === '/sign-out'), page.getByRole('button', { name: 'Sign out' }).click()]);
    expect(response.status()).toBe(403);
    await page.waitForURL((url) => url.pathname === '/sign-out');
    await expect(page.getByRole('alert').textContent()).resolves.toBe(
      "The form was refused because it did not carry this session's security token; reload the page and send it again.",
    );
    await expect(sessionCookie()).resolves.toBeDefined();
    await page.goto('/');
    expect(path(page)).toBe('/');
    await expect(page.getByText('Signed in as test rep').count()).resolves.toBe(1);
  });
});

describe('accessibility', () => {
  it('has no serious or critical axe violations and no console errors on the sign-in page', async () => {
    const { page, problems } = browser.current();
    await page.goto('/sign-in');
    await expect(seriousAxeViolations(page)).resolves.toEqual([]);
    expect(problems).toEqual([]);
  });

  it('has none on a sign-in page with a refusal', async () => {
    const { page } = browser.current();
    await signIn(page, h.keys.billing);
    await page.getByRole('alert').waitFor();
    await expect(seriousAxeViolations(page)).resolves.toEqual([]);
  });

  it('has none on the worklist, with rows and with filters on', async () => {
    const { page, problems } = browser.current();
    await signIn(page, h.keys.ops);
    for (const query of [`?search=${tag}`, `?search=${tag}&taskKind=promise_broken`]) {
      await page.goto(`/${query}`);
      await page.locator('tbody tr').first().waitFor();
      await expect(seriousAxeViolations(page)).resolves.toEqual([]);
    }
    expect(problems).toEqual([]);
  });
});
