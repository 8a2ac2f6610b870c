// The rep console's plan page in a real browser (Debian's Chromium, htmx loaded) against the
// real stack over HTTP: recording a promise and seeing it on the timeline and in the journey, a
// refused promise keeping what was typed, a promise entered by keyboard alone, a pause that ends
// by itself, a task closed as a write-off, and no serious accessibility violations.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { initiateDunning } from '../client/dunning';
import { serveHttp, type HttpServer } from '../client/http/server';
import { planStatus } from '../client/status';
import { stateQuery, workflowIdFor } from '../workflows/messages';
import { focusedElement, seriousAxeViolations, useBrowser } from './browser';
import { createPlan, dateOffset, eventually } from './fixtures';
import { startApiHarness, type ApiHarness } from './http-support';

let h: ApiHarness;
let server: HttpServer;

beforeAll(async () => {
  h = await startApiHarness('console-plan-browser');
  server = await serveHttp(h.api, { host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await server?.close();
  await h?.close();
});

const browser = useBrowser(() => ({ baseURL: server.url, timezoneId: 'America/New_York' }));

/** An initiated plan of $1,000 (one invoice 12 days overdue), under the standard policy's long timers. */
async function livePlan(): Promise<string> {
  const { planId } = await createPlan(h.ctx.db, {
    accountName: `Plan browser ${randomUUID().slice(0, 6)}`,
    invoices: [{ number: 'INV-1', amountMinor: 100_000, dueOn: dateOffset(-12) }],
  });
  await initiateDunning(h.ctx, { planId });
  await h.untilBegun(planId);
  return planId;
}

/** Signs in as the test rep (by full page loads) and opens the plan's page. */
async function openPlan(page: Page, planId: string): Promise<void> {
  await page.goto('/sign-in');
  await page.getByLabel('API key').fill(h.keys.rep);
  await Promise.all([page.waitForURL((url) => url.pathname === '/'), page.getByRole('button', { name: 'Sign in' }).click()]);
  await page.goto(`/plans/${planId}`);
  // htmx has loaded and taken over the page's links and forms.
  await page.waitForFunction(() => 'htmx' in globalThis);
}

/** Waits for the notice an action shows (the page is swapped in place), and returns its text. */
async function noticeMatching(page: Page, pattern: RegExp): Promise<string> {
  const notice = page.locator('#notice').filter({ hasText: pattern });
  await notice.waitFor({ timeout: 60_000 });
  return (await notice.textContent()) ?? '';
}

const status = (page: Page) => page.locator('#plan-status').textContent();
const timeline = (page: Page) => page.locator('#timeline li').allTextContents();

describe('the plan page in a browser', () => {
  it('records a promise: a notice, the rep on the timeline, and the journey has it', async () => {
    const planId = await livePlan();
    const { page, problems } = browser.current();
    await openPlan(page, planId);
    const form = page.locator('#promise-form');
    await form.getByLabel('Amount (USD)').fill('300');
    await form.getByLabel('Pay by').fill(dateOffset(10));
    await form.getByRole('button', { name: 'Record promise' }).click();
    await noticeMatching(page, /^Promise \S+ recorded\.$/);
    await expect(status(page)).resolves.toBe('promised');
    expect((await timeline(page)).some((line) => /Promise \S+ .*recorded by test rep/.test(line))).toBe(true);
    const state = await h.ctx.client.workflow.getHandle(workflowIdFor(planId)).query(stateQuery);
    expect(state.promises.map((p) => p.amountMinor)).toEqual([30_000]);
    // In place: the page's address is the plan's, without a full reload.
    expect(new URL(page.url()).pathname).toBe(`/plans/${planId}`);
    expect(problems).toEqual([]);
  });

  it('refuses a promise dated in the past beside the form, keeping what was typed', async () => {
    const planId = await livePlan();
    const { page, problems } = browser.current();
    await openPlan(page, planId);
    const form = page.locator('#promise-form');
    await form.getByLabel('Amount (USD)').fill('123.45');
    await form.getByLabel('Pay by').fill(dateOffset(-2));
    await form.getByRole('button', { name: 'Record promise' }).click();
    const refusal = page.locator('#promise-form [role="alert"]');
    await expect(refusal.textContent({ timeout: 60_000 })).resolves.toBe('The promised date must be in the future.');
    await expect(page.locator('#promise-form').getByLabel('Amount (USD)').inputValue()).resolves.toBe('123.45');
    await expect(page.locator('#promise-form').getByLabel('Pay by').inputValue()).resolves.toBe(dateOffset(-2));
    expect((await planStatus(h.ctx, { planId })).promises).toEqual([]);
    // A reload shows the plan, not the form's action.
    expect(new URL(page.url()).pathname).toBe(`/plans/${planId}`);
    // The refused page is a 422 that htmx swaps in: not an error in the console.
    expect(problems.filter((p) => !p.text.includes('422'))).toEqual([]);
  });

  it('takes a promise by keyboard alone', async () => {
    const planId = await livePlan();
    const { page } = browser.current();
    await openPlan(page, planId);
    // From the page's top, Tab until the amount field has focus, as a keyboard user does.
    await page.locator('body').focus();
    for (let i = 0; i < 40 && (await focusedElement(page)).element !== 'input#promise-amount'; i++) await page.keyboard.press('Tab');
    const focused = await focusedElement(page);
    expect(focused.element).toBe('input#promise-amount');
    expect(focused.outlineWidthPx).toBeGreaterThanOrEqual(2);
    await page.keyboard.type('450');
    await page.keyboard.press('Tab');
    expect((await focusedElement(page)).element).toBe('input#promise-date');
    // Chromium's date field takes the digits of its locale's order (en-US: month, day, year).
    const [y, m, d] = dateOffset(14).split('-');
    await page.keyboard.type(`${m}${d}${y}`);
    await page.keyboard.press('Enter');
    await noticeMatching(page, /recorded/);
    const view = await planStatus(h.ctx, { planId });
    expect(view.promises.map((p) => p.amountMinor)).toEqual([45_000]);
  });

  it('closes a task as a write-off: the plan is written off', async () => {
    const planId = await livePlan();
    const { page } = browser.current();
    await openPlan(page, planId);
    await page.locator('#escalate-form').getByLabel('Reason').fill('asked for a call');
    await page.locator('#escalate-form').getByRole('button', { name: 'Escalate' }).click();
    await noticeMatching(page, /^Escalated: task \S+ opened\.$/);
    const task = page.locator('ul.tasks li').filter({ hasText: 'asked for a call' });
    await task.getByLabel('Outcome').selectOption('write_off');
    await task.getByLabel('Note').fill('company dissolved');
    await task.getByRole('button', { name: 'Close task' }).click();
    await noticeMatching(page, /closed: write off\.$/);
    await expect(status(page)).resolves.toBe('written off');
    await expect(page.getByText('This plan is written off: nothing more can be done on it.').count()).resolves.toBe(1);
    expect((await planStatus(h.ctx, { planId })).status).toBe('written_off');
  });

  it('has no serious or critical axe violations and no console errors, before and after a refusal', async () => {
    const planId = await livePlan();
    const { page, problems } = browser.current();
    await openPlan(page, planId);
    await expect(seriousAxeViolations(page)).resolves.toEqual([]);
    await page.locator('#installments-form').getByRole('button', { name: 'Add an installment' }).click();
    await page.locator('#installment-date-3').waitFor({ timeout: 60_000 });
    await page.locator('#installments-form').getByRole('button', { name: 'Record installments' }).click();
    await page.locator('#installments-form [role="alert"]').waitFor({ timeout: 60_000 });
    await expect(seriousAxeViolations(page)).resolves.toEqual([]);
    expect(problems.filter((p) => !p.text.includes('422'))).toEqual([]);
  });
});

describe('a pause with an end date', () => {
  it('pauses the plan and it resumes by itself when the date comes', async () => {
    const planId = await livePlan();
    const { page } = browser.current();
    await openPlan(page, planId);
    const form = page.locator('#pause-form');
    await form.getByLabel('Reason').fill('customer on holiday');
    // A rep picks a day; the server also reads a date-time with an offset (as the CLI's --until
    // does), which lets the test end the pause seconds from now instead of at a day's end.
    const until = new Date(Date.now() + 6_000).toISOString();
    await form.locator('input[name="until"]').evaluate((input, value) => {
      const field = input as unknown as { type: string; value: string };
      field.type = 'text';
      field.value = value;
    }, until);
    await form.getByRole('button', { name: 'Pause the plan' }).click();
    await noticeMatching(page, /resumes by itself/);
    await expect(status(page)).resolves.toBe('on hold');
    await eventually(async () => ((await planStatus(h.ctx, { planId })).status === 'in_progress' ? true : undefined), 'the pause to end by itself', 60_000);
    await page.reload();
    await expect(status(page)).resolves.toBe('in progress');
    expect((await timeline(page)).some((line) => /Resumed automatically at the end of the pause/.test(line))).toBe(true);
    expect((await timeline(page)).some((line) => /Paused by test rep: customer on holiday \(until /.test(line))).toBe(true);
  });
});
