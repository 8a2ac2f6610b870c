// Browser tests' harness: Debian's Chromium driven by playwright-core, one browser per test
// file and a fresh context (cookies, storage) per test; every console error and uncaught page
// error is kept so a test can say none happened; an axe-core scan of the page as it stands.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Where Debian's `chromium` package puts it (.ci/run installs it); CHROMIUM_PATH overrides. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Waits are generous: on 2 shared cores a page that takes 50 ms alone can take seconds while
 * other suites run. A test waits for a navigation or an element, never for a fixed time.
 */
const actionTimeoutMs = 30_000;
const navigationTimeoutMs = 60_000;

export interface PageProblem {
  kind: 'console' | 'pageerror';
  text: string;
  /** The page's address when it happened. */
  url: string;
}

export interface BrowserTest {
  page: Page;
  context: BrowserContext;
  /** Console errors and uncaught exceptions since the context opened, in order. */
  problems: PageProblem[];
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`No Chromium at ${chromiumPath}: install Debian's package (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH.`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    // --no-sandbox: CI and these machines run as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'],
    timeout: navigationTimeoutMs,
  });
}

/** A new context and page on `browser`, with its problems recorded. */
export async function openPage(browser: Browser, opts: { baseURL?: string; timezoneId?: string } = {}): Promise<BrowserTest> {
  const context = await browser.newContext({ baseURL: opts.baseURL, timezoneId: opts.timezoneId, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(actionTimeoutMs);
  context.setDefaultNavigationTimeout(navigationTimeoutMs);
  const page = await context.newPage();
  const problems: PageProblem[] = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // A failed load names the resource only in its location, e.g. a missing /favicon.ico.
    const resource = msg.location().url;
    problems.push({ kind: 'console', text: resource && resource !== page.url() ? `${msg.text()}: ${resource}` : msg.text(), url: page.url() });
  });
  page.on('pageerror', (err) => problems.push({ kind: 'pageerror', text: err.message, url: page.url() }));
  return { page, context, problems };
}

/**
 * Registers the hooks of a browser test file: Chromium launched once for the file, a fresh
 * context per test (closed after it). Read `current()` inside a test.
 */
export function useBrowser(opts: () => { baseURL: string; timezoneId?: string }): { current(): BrowserTest } {
  let browser: Browser | undefined;
  let test: BrowserTest | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    test = await openPage(browser!, opts());
  });
  afterEach(async () => {
    await test?.context.close();
    test = undefined;
  });
  return {
    current() {
      if (!test) throw new Error('No browser page: call current() inside a test.');
      return test;
    },
  };
}

export interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  /** CSS selectors of the offending elements. */
  targets: string[];
}

const axeScript = path.join(path.dirname(createRequire(import.meta.url).resolve('axe-core')), 'axe.min.js');

/**
 * axe-core's serious and critical violations on the page as it stands (WCAG 2.x A/AA and best
 * practices, axe's defaults). Injected as a script tag rather than through @axe-core/playwright:
 * one package fewer, and the same engine.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: axeScript });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact?: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const result = await axe.run();
    return result.violations.map((v) => ({ id: v.id, impact: v.impact ?? 'unknown', help: v.help, targets: v.nodes.map((n) => n.target.map(String).join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export interface FocusedElement {
  /** `tag#id` or `tag[name=…]`, e.g. `input#key`; `body` when nothing has focus. */
  element: string;
  outlineStyle: string;
  outlineWidthPx: number;
}

/** The element with keyboard focus and the outline it draws, as a rep sees it. */
export async function focusedElement(page: Page): Promise<FocusedElement> {
  return page.evaluate(() => {
    // lib "dom" is not in tsconfig (server code); the page's globals are read untyped here.
    const doc = (globalThis as unknown as { document: { activeElement: any } }).document;
    const el = doc.activeElement;
    const style = el.ownerDocument.defaultView.getComputedStyle(el);
    const tag = String(el.tagName).toLowerCase();
    const name = el.id ? `#${el.id}` : el.getAttribute('name') ? `[name=${el.getAttribute('name')}]` : '';
    return { element: `${tag}${name}`, outlineStyle: String(style.outlineStyle), outlineWidthPx: parseFloat(style.outlineWidth) || 0 };
  });
}
