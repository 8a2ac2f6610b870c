// Webhook endpoints through both doors, on the real API and CLI over the shared PostgreSQL: the
// secret is shown once and kept only sealed, a rotation keeps the previous secret a day, and
// URLs that would reach inside the network are refused in the same sentence by CLI and HTTP.
// Other suites share the database (and the trigger owes their events to every enabled
// endpoint), so every endpoint made here points at a closed local port and is disabled after.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addWebhook, disableWebhook } from '../client/webhooks';
import { checkWebhookUrl, type ResolveHost } from '../client/webhook-url';
import { planEventTypes } from '../db/plan-events';
import { webhookEndpoints } from '../db/schema';
import { openWebhookSecret, sealWebhookSecret } from '../db/webhook-secrets';
import { ConfigError, loadConfig } from '../worker/config';
import { runDunning } from './engine-process';
import { startApiHarness, type ApiHarness } from './http-support';
import { cliEnv } from './support';

let h: ApiHarness;
let env: NodeJS.ProcessEnv;
const run = randomUUID().slice(0, 6);
/** Every endpoint made here, disabled when the file ends. */
const made: string[] = [];
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

const dunning = (...args: string[]) => runDunning(args, env);
/** A URL on this machine where nothing listens: allowed, and never delivered to. */
const local = (what: string) => `https://127.0.0.1:9/${run}/${what}`;
const row = async (id: string) => (await h.ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)))[0]!;
const key = () => h.ctx.config.webhooks.secretKey;

async function addOverHttp(url: string, events: unknown = 'all', headers: Record<string, string> = {}) {
  const answer = await h.call('POST', '/v1/webhooks', { as: 'ops', body: { url, events }, headers });
  if (answer.status === 201) made.push(answer.body.id);
  return answer;
}

async function addOverCli(url: string, events = 'all', extraEnv: NodeJS.ProcessEnv = {}) {
  const r = await runDunning(['webhook', 'add', url, '--events', events, '--json'], { ...env, ...extraEnv });
  if (r.code === 0) made.push(JSON.parse(r.stdout).id);
  return r;
}

beforeAll(async () => {
  h = await startApiHarness('webhook-endpoints');
  env = cliEnv(h.stack);
});
afterAll(async () => {
  if (h) for (const id of made) await disableWebhook(h.ctx, { id, by: 'the end of webhook-endpoints.test.ts' });
  await h?.close();
});

describe('adding', () => {
  it('over HTTP shows the secret once and keeps it only sealed with the key', async () => {
    const answer = await addOverHttp(local('http-add'), ['plan.resolved', 'plan.paused', 'plan.paused']);
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ url: local('http-add'), events: ['plan.paused', 'plan.resolved'], status: 'enabled', disabledReason: null, previousSecretExpiresAt: null });
    const { id, secret } = answer.body as { id: string; secret: string };
    expect(secret).toMatch(SECRET);

    const stored = await row(id);
    expect(stored.secretCiphertext).not.toContain(secret);
    expect(stored.secretCiphertext).not.toContain(secret.slice('whsec_'.length, 30));
    expect(openWebhookSecret(stored.secretCiphertext, key())).toBe(secret);
    expect(() => openWebhookSecret(stored.secretCiphertext, randomBytes(32))).toThrow(/does not open with this key/);

    const list = await h.call('GET', '/v1/webhooks', { as: 'ops' });
    expect(list.status).toBe(200);
    expect(list.body.data.find((e: { id: string }) => e.id === id)).toEqual({
      id,
      url: local('http-add'),
      events: ['plan.paused', 'plan.resolved'],
      status: 'enabled',
      disabledReason: null,
      previousSecretExpiresAt: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(list.text).not.toContain(secret);
    expect(list.text).not.toContain('"secret"');
  });

  it('replays an Idempotency-Key without the secret, which is never kept', async () => {
    const headers = { 'idempotency-key': `webhook-add-${run}` };
    const first = await addOverHttp(local('replayed'), 'plan.resolved', headers);
    expect(first.status).toBe(201);
    const again = await h.call('POST', '/v1/webhooks', { as: 'ops', body: { url: local('replayed'), events: 'plan.resolved' }, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual({ ...first.body, secret: null });
    const [kept] = (await h.ctx.db.execute(sql`select response_body from idempotent_requests where key = ${headers['idempotency-key']}`)) as unknown as [{ response_body: string }];
    expect(kept.response_body).not.toContain(first.body.secret);
    const rows = await h.ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.url, local('replayed')));
    expect(rows).toHaveLength(1);
  });

  it('over the CLI shows the secret once, sealed with the key the engine reads', async () => {
    const human = await dunning('webhook', 'add', local('cli-human'), '--events', 'plan.promise_broken, plan.initiated');
    expect(human.stderr).toBe('');
    expect(human.code).toBe(0);
    const [, id, secret] = /^Webhook (wh_[0-9a-f]{16}) added: .* takes plan\.initiated, plan\.promise_broken\.[^]*\n {2}(whsec_\S+)\n/.exec(human.stdout)!;
    made.push(id!);
    expect(secret).toMatch(SECRET);
    // The CLI found webhook.key in the data dir the engine uses, or made it there.
    expect(openWebhookSecret((await row(id!)).secretCiphertext, key())).toBe(secret);

    const json = await addOverCli(local('cli-json'), 'all');
    expect(json.code).toBe(0);
    const added = JSON.parse(json.stdout);
    expect(added).toMatchObject({ url: local('cli-json'), events: [...planEventTypes], status: 'enabled', secret: expect.stringMatching(SECRET) });
    expect(openWebhookSecret((await row(added.id)).secretCiphertext, key())).toBe(added.secret);

    const list = await dunning('webhook', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${id} +${local('cli-human').replace(/[./]/g, '\\$&')} +plan\\.initiated,plan\\.promise_broken +enabled`));
    const listJson = await dunning('webhook', 'list', '--json');
    for (const shown of [list.stdout, listJson.stdout]) {
      expect(shown).not.toContain(secret);
      expect(shown).not.toContain(added.secret);
    }
    expect(JSON.parse(listJson.stdout).find((e: { id: string }) => e.id === id)).toEqual({
      id,
      url: local('cli-human'),
      events: ['plan.initiated', 'plan.promise_broken'],
      status: 'enabled',
      disabledReason: null,
      previousSecretExpiresAt: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
  });

  it.each([
    ['https://[::1]:9/hooks', 'https://[::1]:9/hooks'],
    ['http://127.0.0.1:9/hooks', 'http://127.0.0.1:9/hooks'],
    ['http://localhost:9/hooks', 'http://localhost:9/hooks'],
  ])('lets %s through: this machine', async (url, kept) => {
    const answer = await addOverHttp(`${url}/${run}`, 'plan.resolved');
    expect(answer.status, answer.text).toBe(201);
    expect(answer.body.url).toBe(`${kept}/${run}`);
  });
});

describe('refusals, in the same sentence on both doors', () => {
  const cases: Array<[string, string, string]> = [
    ['http://example.com/x', 'all', 'Webhook URL "http://example.com/x" must use https (plain http only to this machine).'],
    ['https://10.0.0.5/', 'all', 'Webhook URL "https://10.0.0.5/" points to a private address (set webhooks.allowPrivateNetworks to send inside your own network).'],
    ['https://169.254.169.254/latest', 'all', 'Webhook URL "https://169.254.169.254/latest" points to a link-local address, where no webhook may go.'],
    ['https://100.64.0.1/', 'all', 'Webhook URL "https://100.64.0.1/" points to a carrier-grade NAT address (set webhooks.allowPrivateNetworks to send inside your own network).'],
    ['https://[fe80::1]/', 'all', 'Webhook URL "https://[fe80::1]/" points to a link-local address, where no webhook may go.'],
    ['https://0.0.0.0/', 'all', 'Webhook URL "https://0.0.0.0/" points to an unspecified address, where no webhook may go.'],
    ['https://ops:hunter2@127.0.0.1:9/', 'all', 'Webhook URL "https://127.0.0.1:9/" must not contain a user name or password (the signature authenticates each event).'],
    ['ftp://127.0.0.1/', 'all', 'Webhook URL "ftp://127.0.0.1/" must use https (plain http only to this machine).'],
    ['not a url', 'all', 'Webhook URL "not a url" is not a URL.'],
    [local('events'), 'plan.paused,plan.bogus', `Unknown event type "plan.bogus"; the types are ${planEventTypes.join(', ')}, or all.`],
    [local('events'), ',', `Name the events the webhook takes; the types are ${planEventTypes.join(', ')}, or all.`],
  ];

  it.each(cases)('%s with events %s', async (url, events, sentence) => {
    const count = async () => (await h.ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.url, url))).length;
    const before = await count();
    const answer = await addOverHttp(url, events);
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ code: 'invalid', detail: sentence });
    const cli = await addOverCli(url, events);
    expect(cli.code).toBe(1);
    expect(cli.stderr.trim()).toBe(sentence);
    expect(await count()).toBe(before);
  });

  it('lets private addresses through when webhooks.allowPrivateNetworks is set, never link-local ones', async () => {
    const configFile = path.join(h.stack.config.dataDir, 'private-networks.config.json');
    writeFileSync(configFile, JSON.stringify({ temporal: { taskQueues: h.stack.config.temporal.taskQueues }, webhooks: { allowPrivateNetworks: true } }));
    const cli = await addOverCli(`https://10.0.0.5/${run}`, 'plan.resolved', { DUNNING_CONFIG: configFile });
    expect(cli.stderr).toBe('');
    expect(JSON.parse(cli.stdout)).toMatchObject({ url: `https://10.0.0.5/${run}`, status: 'enabled' });

    const ctx = { db: h.ctx.db, config: { ...h.ctx.config, webhooks: { secretKey: key(), allowPrivateNetworks: true, retentionDays: 30 } } };
    const added = await addWebhook(ctx, { url: `https://192.168.1.20:8443/${run}`, events: 'all' });
    made.push(added.id);
    expect(added.url).toBe(`https://192.168.1.20:8443/${run}`);
    await expect(addWebhook(ctx, { url: 'https://169.254.169.254/latest', events: 'all' })).rejects.toThrow(/link-local address, where no webhook may go/);
  });

  it('refuses an unknown endpoint id on every verb', async () => {
    for (const verb of ['disable', 'enable', 'rotate']) {
      const sentence = 'Unknown webhook "wh_0000000000000000"; see `dunning webhook list`.';
      const answer = await h.call('POST', `/v1/webhooks/wh_0000000000000000/${verb}`, { as: 'ops', body: {} });
      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({ code: 'unknown_webhook', detail: sentence });
      const cli = await dunning('webhook', verb, 'wh_0000000000000000');
      expect(cli.code).toBe(1);
      expect(cli.stderr.trim()).toBe(sentence);
    }
  });
});

describe('disable, enable, rotate', () => {
  it('disables and enables over HTTP, saying who disabled it', async () => {
    const { body } = await addOverHttp(local('toggle-http'), 'plan.resolved');
    const disabled = await h.call('POST', `/v1/webhooks/${body.id}/disable`, { as: 'ops', body: {} });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ id: body.id, status: 'disabled', disabledReason: 'Disabled by API key "test ops".' });
    expect(disabled.text).not.toContain('secret');
    expect(await row(body.id)).toMatchObject({ status: 'disabled', disabledReason: 'Disabled by API key "test ops".' });

    const enabled = await h.call('POST', `/v1/webhooks/${body.id}/enable`, { as: 'ops' });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ id: body.id, status: 'enabled', disabledReason: null });
    expect(await row(body.id)).toMatchObject({ status: 'enabled', disabledReason: null });
  });

  it('disables and enables over the CLI, the list showing why', async () => {
    const { id } = JSON.parse((await addOverCli(local('toggle-cli'), 'plan.resolved')).stdout);
    const disabled = await dunning('webhook', 'disable', id);
    expect(disabled.code).toBe(0);
    expect(disabled.stdout.trim()).toBe(`Webhook ${id} is disabled; events from now on are not sent to it until \`dunning webhook enable ${id}\`.`);
    const list = await dunning('webhook', 'list');
    expect(list.stdout).toMatch(new RegExp(`${id} .* disabled .* Disabled by \`dunning webhook disable\`\\.`));

    const enabled = await dunning('webhook', 'enable', id, '--json');
    expect(enabled.code).toBe(0);
    expect(JSON.parse(enabled.stdout)).toMatchObject({ id, status: 'enabled', disabledReason: null });
    expect((await row(id)).status).toBe('enabled');
  });

  it('rotates over HTTP: a new secret shown once, the previous one kept sealed for a day', async () => {
    const { body } = await addOverHttp(local('rotate-http'), 'plan.resolved');
    const rotated = await h.call('POST', `/v1/webhooks/${body.id}/rotate`, { as: 'ops', body: {} });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(SECRET);
    expect(rotated.body.secret).not.toBe(body.secret);

    const stored = await row(body.id);
    expect(openWebhookSecret(stored.secretCiphertext, key())).toBe(rotated.body.secret);
    expect(openWebhookSecret(stored.previousSecretCiphertext!, key())).toBe(body.secret);
    const day = stored.previousSecretExpiresAt!.getTime() - Date.now();
    expect(day).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(day).toBeLessThanOrEqual(24 * 3600_000);
    expect(rotated.body.previousSecretExpiresAt).toBe(stored.previousSecretExpiresAt!.toISOString());

    const list = await h.call('GET', '/v1/webhooks', { as: 'ops' });
    expect(list.text).not.toContain(rotated.body.secret);
    expect(list.body.data.find((e: { id: string }) => e.id === body.id).previousSecretExpiresAt).toBe(stored.previousSecretExpiresAt!.toISOString());
  });

  it('rotates over the CLI', async () => {
    const added = JSON.parse((await addOverCli(local('rotate-cli'), 'plan.resolved')).stdout);
    const human = await dunning('webhook', 'rotate', added.id);
    expect(human.code).toBe(0);
    const [, secret] = /has a new secret; the previous one also signs until \d{4}-\d\d-\d\d \d\d:\d\d UTC\.[^]*\n {2}(whsec_\S+)\n/.exec(human.stdout)!;
    expect(secret).toMatch(SECRET);
    const stored = await row(added.id);
    expect(openWebhookSecret(stored.secretCiphertext, key())).toBe(secret);
    expect(openWebhookSecret(stored.previousSecretCiphertext!, key())).toBe(added.secret);
  });
});

describe('an endpoint\'s timeline', () => {
  it('records what every door did to it, read alike over HTTP and the CLI', async () => {
    const { body } = await addOverHttp(local('timeline'), 'plan.resolved,plan.paused');
    expect((await h.call('POST', `/v1/webhooks/${body.id}/disable`, { as: 'ops', body: {} })).status).toBe(200);
    // Disabling twice is one change, and one entry.
    expect((await dunning('webhook', 'disable', body.id)).code).toBe(0);
    expect((await dunning('webhook', 'enable', body.id)).code).toBe(0);
    expect((await h.call('POST', `/v1/webhooks/${body.id}/rotate`, { as: 'ops', body: {} })).status).toBe(200);

    const shown = await h.call('GET', `/v1/webhooks/${body.id}`, { as: 'ops' });
    expect(shown.status).toBe(200);
    expect(shown.text).not.toContain('secret_ciphertext');
    expect(shown.body).toMatchObject({ id: body.id, status: 'enabled', waiting: 0, attempts: [] });
    const timeline = shown.body.timeline as Array<{ kind: string; summary: string }>;
    expect(timeline.map((t) => t.kind)).toEqual(['added', 'disabled', 'enabled', 'secret_rotated']);
    expect(timeline[0]!.summary).toBe(`Added: ${local('timeline')} takes plan.paused, plan.resolved.`);
    expect(timeline[1]!.summary).toBe(`Disabled by API key "test ops". No event waits for it; \`dunning webhook enable ${body.id}\` sends what comes after.`);
    expect(timeline[3]!.summary).toMatch(/^Secret rotated; the previous one signs too until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\.$/);

    const cli = await dunning('webhook', 'show', body.id);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`Webhook ${body.id}: ${local('timeline')}, enabled`);
    for (const t of timeline) expect(cli.stdout).toContain(t.summary);
    expect(cli.stdout).toContain('No delivery attempt yet.');
    expect(JSON.parse((await dunning('webhook', 'show', body.id, '--json')).stdout)).toEqual(shown.body);
  });

  it('is for ops only, and an unknown id is refused in the same sentence on both doors', async () => {
    const { body } = await addOverHttp(local('timeline-roles'), 'plan.resolved');
    for (const as of ['billing', 'rep'] as const) expect((await h.call('GET', `/v1/webhooks/${body.id}`, { as })).status).toBe(403);
    const sentence = 'Unknown webhook "wh_0000000000000000"; see `dunning webhook list`.';
    const answer = await h.call('GET', '/v1/webhooks/wh_0000000000000000', { as: 'ops' });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ code: 'unknown_webhook', detail: sentence });
    const cli = await dunning('webhook', 'show', 'wh_0000000000000000');
    expect(cli.code).toBe(1);
    expect(cli.stderr.trim()).toBe(sentence);
  });
});

describe('the URL guard by itself', () => {
  const resolvingTo =
    (...addresses: string[]): ResolveHost =>
    async () =>
      addresses;
  const rules = (resolve: ResolveHost, allowPrivateNetworks = false) => ({ resolve, allowPrivateNetworks });

  it('refuses a name when any address it resolves to is private', async () => {
    await expect(checkWebhookUrl('https://hooks.example.test/x', rules(resolvingTo('93.184.216.34', '10.1.2.3')))).rejects.toThrow(
      'Webhook URL "https://hooks.example.test/x" names a host that resolves to 10.1.2.3, a private address (set webhooks.allowPrivateNetworks to send inside your own network).',
    );
    await expect(checkWebhookUrl('https://meta.example.test/', rules(resolvingTo('::ffff:169.254.169.254')))).rejects.toThrow(/resolves to ::ffff:169\.254\.169\.254, a link-local address/);
    await expect(checkWebhookUrl('https://v6.example.test/', rules(resolvingTo('fd12::1')))).rejects.toThrow(/resolves to fd12::1, a private address/);
    expect(await checkWebhookUrl('https://v6.example.test/', rules(resolvingTo('fd12::1'), true))).toBe('https://v6.example.test/');
  });

  it('lets a name through that resolves to public addresses only', async () => {
    expect(await checkWebhookUrl('https://Hooks.Example.test/x?a=1', rules(resolvingTo('93.184.216.34', '2606:2800:220:1::1')))).toBe('https://hooks.example.test/x?a=1');
  });

  it('refuses a name that does not resolve', async () => {
    const fails: ResolveHost = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    await expect(checkWebhookUrl('https://nowhere.example.test/', rules(fails))).rejects.toThrow('Webhook URL "https://nowhere.example.test/" names a host, "nowhere.example.test", that does not resolve.');
  });

  it('reads addresses as the URL parser writes them', async () => {
    const never: ResolveHost = async () => expect.unreachable('an address literal is not resolved');
    await expect(checkWebhookUrl('https://[::ffff:10.0.0.1]/', rules(never))).rejects.toThrow(/private address/);
    await expect(checkWebhookUrl('https://0xa000005/', rules(never))).rejects.toThrow(/private address/);
    await expect(checkWebhookUrl('https://[ff02::1]/', rules(never))).rejects.toThrow(/multicast address/);
    expect(await checkWebhookUrl('http://0x7f.1:9/', rules(never))).toBe('http://127.0.0.1:9/');
    await expect(checkWebhookUrl('http://ten.example.test/', rules(resolvingTo('127.0.0.1')))).rejects.toThrow(/must use https/);
  });
});

describe('the key', () => {
  it('is made once in the data dir, 0600, and read again', () => {
    const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'dunning-webhook-key-')), 'fresh');
    const first = loadConfig({ DUNNING_DATA_DIR: dataDir }).webhooks.secretKey;
    expect(first).toHaveLength(32);
    expect(statSync(path.join(dataDir, 'webhook.key')).mode & 0o777).toBe(0o600);
    expect(loadConfig({ DUNNING_DATA_DIR: dataDir }).webhooks.secretKey.equals(first)).toBe(true);
  });

  it('comes from DUNNING_WEBHOOK_KEY when set, and a malformed one is refused in one sentence', () => {
    const given = randomBytes(32);
    const config = loadConfig({ DUNNING_DATA_DIR: '/nonexistent/dunning', DUNNING_WEBHOOK_KEY: given.toString('base64') });
    expect(config.webhooks.secretKey.equals(given)).toBe(true);
    expect(openWebhookSecret(sealWebhookSecret('whsec_x', config.webhooks.secretKey), given)).toBe('whsec_x');
    for (const bad of ['short', randomBytes(16).toString('base64'), `${randomBytes(32).toString('base64')}!`]) {
      expect(() => loadConfig({ DUNNING_WEBHOOK_KEY: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ DUNNING_WEBHOOK_KEY: bad })).toThrow(
        'Invalid environment variable DUNNING_WEBHOOK_KEY: must be 32 bytes in base64 (openssl rand -base64 32).',
      );
    }
  });

  it('refuses a webhook.key that is not a key', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dunning-webhook-key-'));
    writeFileSync(path.join(dataDir, 'webhook.key'), 'not a key\n');
    expect(() => loadConfig({ DUNNING_DATA_DIR: dataDir }).webhooks.secretKey).toThrow(
      `The webhook key file ${path.join(dataDir, 'webhook.key')} is not 32 bytes in base64; restore it or set DUNNING_WEBHOOK_KEY.`,
    );
  });
});
