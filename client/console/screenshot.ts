// `npm run screenshot:console`: the rep console as a rep sees it, for the README. Starts a
// throw-away stack (embedded PostgreSQL, the Temporal dev server, the workers, the HTTP server;
// free ports, a temporary data dir), walks a few accounts through real journeys — escalations,
// a promise that breaks, a plan paused for a dispute, a contact who opted out — signs in with
// a rep key in headless Chromium (Debian's `chromium`) and photographs the worklist and the
// broken promise's plan page into client/console/screenshots/; then, with a few payments in,
// signs in with an ops key and photographs the reports page.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { standardPolicy } from '../../workflows/domain/policy';
import { loadConfig } from '../../worker/config';
import { freePort } from '../../worker/dev-server';
import { startStack } from '../../worker/stack';
import { installRuntime } from '../../worker/worker';
import { createApiKey } from '../api-keys';
import type { DunningContext } from '../context';
import { initiateDunning, pause, recordPromise, reportPayment } from '../dunning';
import { importCsv } from '../import';
import { setPolicy } from '../policies';
import { planStatus, type PlanStatusView } from '../status';

const outDir = fileURLToPath(new URL('./screenshots/', import.meta.url));
const day = 86_400_000;
const date = (days: number) => new Date(Date.now() + days * day).toISOString().slice(0, 10);

/** Accounts as a billing system would import them; days are relative to today. */
const accounts = [
  { id: 'NORTHWIND', name: 'Northwind Traders', contact: 'Nancy Davolio', tz: 'America/Chicago', currency: 'USD', locale: 'en-US', invoices: [['NW-2291', '8420.00', -38], ['NW-2318', '1310.75', -9]] },
  { id: 'BLUEBIRD', name: 'Bluebird Bakery Co.', contact: 'Maya Lindqvist', tz: 'America/New_York', currency: 'USD', locale: 'en-US', invoices: [['BB-0107', '640.00', -24]] },
  { id: 'BERGER', name: 'Berger Maschinenbau GmbH', contact: 'Anna Berger', tz: 'Europe/Berlin', currency: 'EUR', locale: 'de-DE', invoices: [['RE-2025-0815', '4980.00', -31], ['RE-2025-0871', '1725.40', -6]] },
  { id: 'KESTREL', name: 'Kestrel Outdoor Ltd', contact: 'Tom Okafor', tz: 'Europe/London', currency: 'GBP', locale: 'en-GB', invoices: [['K-5540', '2150.00', -27]] },
  // (Not a yen account: Debian's chromium brings no CJK font, and ja-JP writes a full-width ￥.)
  { id: 'WATTLE', name: 'Wattle & Gum Pty Ltd', contact: 'Chloe Nguyen', tz: 'Australia/Sydney', currency: 'AUD', locale: 'en-AU', invoices: [['WG-3107', '3860.00', -22]], optedOut: true },
] as const;

function portfolioCsv(): string {
  const header = 'account_id,account_name,contact_name,contact_email,timezone,currency,locale,email_consent,invoice_number,amount,issued_on,due_on';
  const rows = accounts.flatMap((a) =>
    a.invoices.map(([number, amount, dueIn]) =>
      [a.id, a.name, a.contact, `${a.contact.split(' ')[0]!.toLowerCase()}@${a.id.toLowerCase()}.example`, a.tz, a.currency, a.locale,
        'optedOut' in a ? 'opted_out' : 'opted_in', number, amount, date(dueIn - 30), date(dueIn)].join(','),
    ),
  );
  return [header, ...rows].join('\n');
}

/** Polls the plan until `ready` holds (journeys run on the real server, in real time). */
async function until(ctx: DunningContext, planId: string, what: string, ready: (plan: PlanStatusView) => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (ready(await planStatus(ctx, { planId }))) return;
    if (Date.now() > deadline) throw new Error(`${planId} did not reach "${what}" within a minute.`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
const hasOpenTask = (kind: string) => (plan: PlanStatusView) => plan.tasks.some((t) => t.kind === kind && t.status === 'open');

async function seed(ctx: DunningContext): Promise<{ brokenPromisePlanId: string; planOf: (accountId: string) => string }> {
  // The shipped steps, but no send window (the picture should not depend on the hour it is
  // taken) and a grace of seconds, so the promise below breaks while the script waits.
  await setPolicy(ctx, { policy: { ...standardPolicy, sendWindow: undefined, promiseGrace: 'PT1S' } });
  const { plans } = await importCsv(ctx, { source: portfolioCsv() });
  const planOf = (accountId: string) => plans.find((p) => p.accountId === accountId)!.planId;
  // Every invoice is more than 20 days overdue: the steps that have passed run at once and each
  // plan reaches its rep escalation (or, for the opted-out contact, a task instead of emails).
  for (const { planId } of plans) await initiateDunning(ctx, { planId });
  for (const { planId, accountId } of plans) {
    await until(ctx, planId, 'a task for a rep', hasOpenTask(accountId === 'WATTLE' ? 'opted_out' : 'manual_escalation'));
  }

  const bluebird = planOf('BLUEBIRD');
  await recordPromise(ctx, { planId: bluebird, amountMinor: 64_000, dueAt: new Date(Date.now() + 3_000).toISOString(), rep: 'Dana Reyes' });
  await until(ctx, bluebird, 'the promise broken', hasOpenTask('promise_broken'));

  await pause(ctx, { planId: planOf('KESTREL'), reason: 'Customer disputes invoice K-5540 (goods returned)' });
  await until(ctx, planOf('KESTREL'), 'on hold', (plan) => plan.status === 'on_hold');
  return { brokenPromisePlanId: bluebird, planOf };
}

/** Payments for the reports' recovery figures, after the rep's pictures (which show none). */
async function pay(ctx: DunningContext, planOf: (accountId: string) => string): Promise<void> {
  const payments = [
    ['NORTHWIND', 'NW-2318', 131_075],
    ['BERGER', 'RE-2025-0815', 200_000],
    ['KESTREL', 'K-5540', 215_000],
  ] as const;
  for (const [accountId, invoiceNumber, amountMinor] of payments) {
    const planId = planOf(accountId);
    const before = (await planStatus(ctx, { planId })).outstandingMinor;
    await reportPayment(ctx, { planId, paymentId: `shot-${invoiceNumber}`, amountMinor, invoiceNumber });
    await until(ctx, planId, 'the payment applied', (plan) => plan.outstandingMinor === before - amountMinor);
  }
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dunning-console-shot-'));
chmodSync(dataDir, 0o755); // embedded PostgreSQL runs as its own user when this runs as root
const config = loadConfig({ ...process.env, DUNNING_DATA_DIR: dataDir, DATABASE_URL: undefined, TEMPORAL_ADDRESS: undefined });
// Free ports, so a running `npm start` (or a test run) is left alone.
config.postgres.port = await freePort();
config.devServer = { ...config.devServer, port: await freePort(), uiPort: await freePort() };
config.http = { ...config.http, port: await freePort() };
config.mail.ratePerSecond = 100;

const log = (line: string) => console.log(line);
installRuntime({ engineLevel: 'WARN' }); // the engine's line per email would bury what this script says
const stack = await startStack(config, log);
try {
  const ctx: DunningContext = { client: stack.client, db: stack.db.db, config };
  const { brokenPromisePlanId, planOf } = await seed(ctx);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'],
  });
  /** A new browser window signed in as `name` with a key of `role`, on the worklist. */
  const signedIn = async (name: string, role: 'rep' | 'ops', timezoneId: string) => {
    const { key } = await createApiKey(ctx, { name, role });
    const page = await browser.newPage({ baseURL: stack.http!.url, viewport: { width: 1100, height: 700 }, timezoneId });
    await page.goto('/sign-in');
    await page.getByLabel('API key').fill(key);
    await Promise.all([page.waitForURL((url) => url.pathname === '/'), page.getByRole('button', { name: 'Sign in' }).click()]);
    return page;
  };
  try {
    const page = await signedIn('Dana Reyes', 'rep', 'America/New_York');
    mkdirSync(outDir, { recursive: true });
    const shots = { worklist: path.join(outDir, 'worklist.png'), plan: path.join(outDir, 'plan.png'), reports: path.join(outDir, 'reports.png') };
    await page.screenshot({ path: shots.worklist, fullPage: true });
    await page.goto(`/plans/${encodeURIComponent(brokenPromisePlanId)}`);
    await page.screenshot({ path: shots.plan, fullPage: true });

    await pay(ctx, planOf);
    const ops = await signedIn('Olu Adeyemi', 'ops', 'Europe/London');
    await ops.goto('/reports');
    await ops.screenshot({ path: shots.reports, fullPage: true });
    console.log(`Wrote ${Object.values(shots).join(', ')}`);
  } finally {
    await browser.close();
  }
} finally {
  await stack.shutdown();
  rmSync(dataDir, { recursive: true, force: true });
}
