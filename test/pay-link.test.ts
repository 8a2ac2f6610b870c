// The pay link: a real journey's emails carry the pay page's button and text line with a signed
// token that both doors verify to the plan and amount; a step renders the same link however
// often it is retried, whatever the clock says by then; a tampered, unsigned, expired or
// malformed token (and one for a plan we do not know) is refused on both doors in the same
// sentence; with no URL template there is no button, and the key comes from the environment or
// a file made once in the data dir.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { Mailer } from '../activities/mail';
import { createPlan as createCompositePlan } from '../client/create-plan';
import { initiateDunning } from '../client/dunning';
import { setPolicy } from '../client/policies';
import { renderTemplatePreview } from '../client/template-preview';
import { renderEmail } from '../templates';
import { sampleEmailContext } from '../templates/sample';
import { readPayToken, signPayToken } from '../templates/pay-link';
import { ConfigError, loadConfig } from '../worker/config';
import { runDunning } from './engine-process';
import { createPlan, eventually, outboxFor, secondsPolicy } from './fixtures';
import { compositePlan, startApiHarness, type ApiHarness } from './http-support';
import { cliEnv } from './support';

const run = randomUUID().slice(0, 6);
const policyName = `paylink-${run}`;
const payPage = 'https://pay.example.test/pay/{planId}?amount={amountMinor}&currency={currency}';
const day = 86_400_000;

let h: ApiHarness;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  h = await startApiHarness('pay-link');
  // The workers read the config object they were started with at each send.
  h.stack.config.payLink.urlTemplate = payPage;
  env = cliEnv(h.stack);
  await setPolicy(h.ctx, { policy: secondsPolicy(policyName, { upcoming_notice: 0, first_reminder: 1 }) });
});
afterAll(async () => {
  await h?.close();
});
afterEach(() => {
  vi.useRealTimers();
  h.stack.config.payLink.urlTemplate = payPage;
});

/** One part of an outbox message, decoded. */
function mimePart(mime: string, type: 'plain' | 'html'): string {
  const header = `Content-Type: text/${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n`;
  return Buffer.from(mime.split(header)[1]!.split('\r\n--')[0]!.replace(/\r\n/g, ''), 'base64').toString('utf8');
}

/** The pay link of a rendered email: the text line's URL, and the button's href as a browser reads it. */
function payLinkOf(email: { text: string; html: string }) {
  const line = /^Pay (.+) now: (\S+)$/m.exec(email.text);
  const button = /<a href="([^"]+)"[^>]*>Pay (.+?) now<\/a>/.exec(email.html);
  const href = button?.[1]?.replace(/&amp;/g, '&');
  return { textUrl: line?.[2], textAmount: line?.[1], href, buttonAmount: button?.[2], token: line ? new URL(line[2]!).searchParams.get('token') : null };
}

async function verifyOverHttp(token: string) {
  return h.call('GET', `/v1/pay-links/verify?token=${encodeURIComponent(token)}`, { as: 'billing' });
}

describe('a journey with a pay page configured', () => {
  it("puts the button and the text link in every dunning email; the token verifies to the plan and amount on both doors", async () => {
    const acct = `PL-${run}-journey`;
    const { planId } = await createCompositePlan(h.ctx, compositePlan(acct, [{ number: `${acct}-1`, amountMinor: 123_456 }]));
    const before = Date.now();
    await initiateDunning(h.ctx, { planId, policyName });
    await eventually(async () => (outboxFor(h.stack.outboxDir, planId).length === 2 ? true : undefined), 'both emails in the outbox', 30_000);
    const after = Date.now();

    for (const file of outboxFor(h.stack.outboxDir, planId)) {
      const mime = readFileSync(path.join(h.stack.outboxDir, file), 'utf8');
      const email = { text: mimePart(mime, 'plain'), html: mimePart(mime, 'html') };
      const link = payLinkOf(email);
      expect(link.textAmount, file).toBe('$1,234.56');
      expect(link.buttonAmount, file).toBe('$1,234.56');
      expect(link.href, file).toBe(link.textUrl);
      expect(link.textUrl, file).toBe(`https://pay.example.test/pay/${planId}?amount=123456&currency=USD&token=${link.token}`);
      // In HTML the query's ampersands are escaped inside the attribute.
      expect(email.html).toContain(`?amount=123456&amp;currency=USD&amp;token=${link.token}"`);

      const answer = await verifyOverHttp(link.token!);
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body).toMatchObject({ planId, accountId: acct, amountMinor: 123_456, currency: 'USD', outstandingMinor: 123_456, locale: 'en-US' });
      // The ttl (P30D) runs from the step's instant, which fell within the journey's first seconds.
      const expires = Date.parse(answer.body.expiresAt);
      expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 30 * day);
      expect(expires).toBeLessThanOrEqual(after + 30 * day);

      const cli = await runDunning(['paylink', 'verify', link.token!, '--json'], env);
      expect(cli.code, cli.stderr).toBe(0);
      expect(JSON.parse(cli.stdout)).toEqual(answer.body);
    }
    // The two steps acted at different instants: each has its own token.
    const tokens = outboxFor(h.stack.outboxDir, planId).map((f) => payLinkOf({ text: mimePart(readFileSync(path.join(h.stack.outboxDir, f), 'utf8'), 'plain'), html: '' }).token);
    expect(new Set(tokens).size).toBe(2);

    const human = await runDunning(['paylink', 'verify', tokens[0]!], env);
    expect(human.stdout).toMatch(new RegExp(`^Pay link for plan ${planId} \\(\\w+\\): \\$1,234\\.56 asked, \\$1,234\\.56 owed now; valid until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d`));
  });
});

describe('the same step', () => {
  const activityEnv = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

  it('renders the same link on every retry, however much later the retry runs', async () => {
    const { planId } = await createPlan(h.stack.db.db, { invoices: [{ amountMinor: 9_900, dueOn: '2026-11-01' }], currency: 'EUR', locale: 'de-DE' });
    const attempts: Array<{ html: string; text: string }> = [];
    // The provider fails the first attempt after it has the message (a timeout, say): the retry must send the same bytes.
    const mailer: Mailer = {
      async send(email) {
        attempts.push({ html: email.html, text: email.text });
        if (attempts.length === 1) throw new Error('provider timed out');
        return { provider: 'outbox', messageId: `m-${planId}` };
      },
    };
    const activities = createActivities({ db: h.stack.db.db, mailer, clock: { now: () => new Date() }, config: h.stack.config });
    const input = { planId, stepKey: 'first_reminder', template: 'first-reminder', at: new Date().toISOString() };
    await expect(activityEnv.run(activities.sendStepEmail, input)).rejects.toThrow('provider timed out');
    // A week later by the clock: a link made from "now" would expire a week later too.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 7 * day);
    await expect(activityEnv.run(activities.sendStepEmail, input)).resolves.toMatchObject({ outcome: 'sent' });
    vi.useRealTimers();

    expect(attempts).toHaveLength(2);
    expect(attempts[1]).toEqual(attempts[0]);
    const link = payLinkOf(attempts[0]!);
    expect(link.token).toBeTruthy();
    const reading = readPayToken(link.token!, h.stack.config.payLink.signingKey, new Date());
    expect(reading).toEqual({
      ok: true,
      claims: { planId, amountMinor: 9_900, currency: 'EUR', expiresAt: new Date(Math.floor((Date.parse(input.at) + 30 * day) / 1000) * 1000) },
    });
  });

  it('sends no button without a URL template, and none in a transactional email', async () => {
    const { planId } = await createPlan(h.stack.db.db, { invoices: [{ amountMinor: 5_000, dueOn: '2026-11-01' }] });
    const sent: Array<{ key: string; html: string; text: string }> = [];
    const mailer: Mailer = {
      async send(email) {
        sent.push({ key: email.idempotencyKey, html: email.html, text: email.text });
        return { provider: 'outbox', messageId: email.idempotencyKey };
      },
    };
    const activities = createActivities({ db: h.stack.db.db, mailer, clock: { now: () => new Date() }, config: h.stack.config });
    const at = new Date().toISOString();
    await activityEnv.run(activities.sendStepEmail, { planId, stepKey: 'payment:P-1:receipt', template: 'payment-receipt', kind: 'transactional' as const, at, payment: { amountMinor: 100, paymentId: 'P-1' } });
    h.stack.config.payLink.urlTemplate = undefined;
    await activityEnv.run(activities.sendStepEmail, { planId, stepKey: 'first_reminder', template: 'first-reminder', at });
    expect(sent.map((s) => s.key)).toEqual([`${planId}:payment:P-1:receipt`, `${planId}:first_reminder`]);
    for (const email of sent) {
      expect(email.text).not.toMatch(/^Pay /m);
      expect(email.html).not.toContain('>Pay ');
      expect(email.html).not.toContain('token=');
    }
    // The renderer adds nothing else: without a pay URL the sample renders as it did before pay links.
    const { payUrl: _unused, ...withoutLink } = sampleEmailContext;
    const plain = renderEmail('first-reminder', withoutLink);
    expect(plain.text).not.toContain('Pay ');
    expect(renderEmail('first-reminder', sampleEmailContext).text.replace(/^Pay .*\n\n/m, '')).toBe(plain.text);
  });

  it('shows the button in the template preview of a dunning email, not of a receipt', async () => {
    const { planId } = await createPlan(h.stack.db.db, { invoices: [{ amountMinor: 7_700, dueOn: '2026-11-01' }] });
    const now = new Date('2026-11-20T10:00:00.000Z');
    const reminder = await renderTemplatePreview({ db: h.stack.db.db, config: h.stack.config }, { template: 'second-reminder', planId, now });
    const link = payLinkOf(reminder);
    expect(link.href).toBe(link.textUrl);
    expect(readPayToken(link.token!, h.stack.config.payLink.signingKey, now)).toMatchObject({ ok: true, claims: { planId, amountMinor: 7_700, expiresAt: new Date(now.getTime() + 30 * day) } });
    const receipt = await renderTemplatePreview({ db: h.stack.db.db, config: h.stack.config }, { template: 'payment-receipt', planId, now });
    expect(payLinkOf(receipt).token).toBeNull();
  });
});

describe('refusals, the same sentence on both doors', () => {
  let planId: string;
  let valid: string;
  const key = () => h.stack.config.payLink.signingKey;
  const inAnHour = () => new Date(Date.now() + 3_600_000);

  beforeAll(async () => {
    ({ planId } = await createPlan(h.stack.db.db, { invoices: [{ amountMinor: 4_200, dueOn: '2026-11-01' }] }));
    valid = signPayToken({ planId, amountMinor: 4_200, currency: 'USD', expiresAt: inAnHour() }, key());
  });

  const parts = () => valid.split('.');
  const unsignedSentence = 'The pay token is not signed by this engine: its signature is missing or does not match what it says.';
  const malformedSentence = 'The pay token is malformed: it is not the token of a pay link from our emails.';
  const cases: Array<[string, () => string, number, string, (() => string) | string]> = [
    ['a tampered amount', () => [...parts().slice(0, 2), '1', ...parts().slice(3)].join('.'), 422, 'pay_token_unsigned', unsignedSentence],
    ['a tampered expiry', () => [...parts().slice(0, 4), String(Math.floor(Date.now() / 1000) + 365 * 86_400), parts()[5]].join('.'), 422, 'pay_token_unsigned', unsignedSentence],
    ['a tampered signature', () => valid.slice(0, -2) + (valid.endsWith('AA') ? 'BB' : 'AA'), 422, 'pay_token_unsigned', unsignedSentence],
    ['a token without its signature', () => parts().slice(0, 5).join('.'), 422, 'pay_token_unsigned', unsignedSentence],
    ['a token with an empty signature', () => `${parts().slice(0, 5).join('.')}.`, 422, 'pay_token_unsigned', unsignedSentence],
    ['a token signed with another key', () => signPayToken({ planId, amountMinor: 4_200, currency: 'USD', expiresAt: inAnHour() }, randomBytes(32)), 422, 'pay_token_unsigned', unsignedSentence],
    [
      'an expired token',
      () => signPayToken({ planId, amountMinor: 4_200, currency: 'USD', expiresAt: new Date('2026-01-02T03:04:05Z') }, key()),
      410,
      'pay_token_expired',
      'The pay token expired at 2026-01-02T03:04:05.000Z; a newer email from us carries a fresh link.',
    ],
    ['a word', () => 'hello', 422, 'pay_token_malformed', malformedSentence],
    ['another version', () => `v2${valid.slice(2)}`, 422, 'pay_token_malformed', malformedSentence],
    ['a lower-case currency', () => [...parts().slice(0, 3), 'usd', ...parts().slice(4)].join('.'), 422, 'pay_token_malformed', malformedSentence],
    ['a 5,000-character token', () => `${valid}${'A'.repeat(5_000)}`, 422, 'pay_token_malformed', malformedSentence],
    [
      'a signed token for a plan we do not know',
      () => signPayToken({ planId: `plan-nobody-${run}`, amountMinor: 1, currency: 'USD', expiresAt: inAnHour() }, key()),
      404,
      'unknown_plan',
      () => `Unknown plan "plan-nobody-${run}".`,
    ],
  ];

  it.each(cases)('refuses %s', async (_what, token, status, code, sentence) => {
    const detail = typeof sentence === 'string' ? sentence : sentence();
    const answer = await verifyOverHttp(token());
    expect({ status: answer.status, code: answer.body.code, detail: answer.body.detail }).toEqual({ status, code, detail });
    const cli = await runDunning(['paylink', 'verify', token()], env);
    expect({ code: cli.code, stderr: cli.stderr.trim(), stdout: cli.stdout }).toEqual({ code: 1, stderr: detail, stdout: '' });
  });

  it('takes the untouched token on both doors', async () => {
    const answer = await verifyOverHttp(valid);
    expect(answer.status).toBe(200);
    const cli = await runDunning(['paylink', 'verify', valid, '--json'], env);
    expect(JSON.parse(cli.stdout)).toEqual(answer.body);
  });
});

describe('configuration', () => {
  it('makes pay-link.key once in the data dir (0600) and reads it again; DUNNING_PAY_LINK_KEY wins', () => {
    const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'dunning-pay-link-key-')), 'fresh');
    const first = loadConfig({ DUNNING_DATA_DIR: dataDir }).payLink.signingKey;
    expect(first).toHaveLength(32);
    expect(statSync(path.join(dataDir, 'pay-link.key')).mode & 0o777).toBe(0o600);
    expect(loadConfig({ DUNNING_DATA_DIR: dataDir }).payLink.signingKey.equals(first)).toBe(true);
    // Its own key: not the webhook key of the same data dir.
    expect(loadConfig({ DUNNING_DATA_DIR: dataDir }).webhooks.secretKey.equals(first)).toBe(false);
    const given = randomBytes(32);
    expect(loadConfig({ DUNNING_DATA_DIR: '/nonexistent/dunning', DUNNING_PAY_LINK_KEY: given.toString('base64') }).payLink.signingKey.equals(given)).toBe(true);
  });

  it('refuses a bad key, key file, URL template or ttl in one sentence', () => {
    expect(() => loadConfig({ DUNNING_PAY_LINK_KEY: 'c2hvcnQ=' })).toThrow('Invalid environment variable DUNNING_PAY_LINK_KEY: must be 32 bytes in base64 (openssl rand -base64 32).');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dunning-pay-link-key-'));
    writeFileSync(path.join(dataDir, 'pay-link.key'), 'not a key\n');
    expect(() => loadConfig({ DUNNING_DATA_DIR: dataDir }).payLink.signingKey).toThrow(
      `The pay link key file ${path.join(dataDir, 'pay-link.key')} is not 32 bytes in base64; restore it or set DUNNING_PAY_LINK_KEY.`,
    );
    const withFile = (payLink: unknown) => {
      const file = path.join(dataDir, 'temporal.config.json');
      writeFileSync(file, JSON.stringify({ payLink }));
      return () => loadConfig({ DUNNING_DATA_DIR: dataDir, DUNNING_CONFIG: file });
    };
    expect(withFile({ urlTemplate: 'https://pay.example.test/{planId}/{amount}' })).toThrow(
      'Invalid config temporal.config.json field "payLink.urlTemplate": may hold only the placeholders {planId} {amountMinor} {currency} {token}.',
    );
    expect(withFile({ urlTemplate: 'ftp://pay.example.test/' })).toThrow(ConfigError);
    expect(withFile({ urlTemplate: payPage, ttl: 'P1M' })).toThrow('Invalid config temporal.config.json field "payLink.ttl": must be an ISO-8601 duration of at least a minute, like P30D.');
    expect(withFile({ urlTemplate: payPage, ttl: '-P3D' })).toThrow(ConfigError);
    expect(withFile({ urlTemplate: 'https://pay.example.test/{token}', ttl: 'P7D' })().payLink).toMatchObject({ urlTemplate: 'https://pay.example.test/{token}', ttl: 'P7D' });
  });
});
