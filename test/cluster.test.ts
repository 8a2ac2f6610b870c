// The production-shaped cluster (`npm run cluster`) as a user starts it: Temporal's four
// services each in a process of its own on PostgreSQL, the Temporal UI server, two `dunning
// worker` processes and a `dunning api` process. Journeys go in through the HTTP API; a worker
// process and then Temporal's history service are killed with SIGKILL mid-journey and the
// cluster starts them again. Every journey completes, every step and email happens once, and
// Ctrl-C leaves nothing running.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { Client, Connection } from '@temporalio/client';
import { createApiKey } from '../client/api-keys';
import { planStatus } from '../client/status';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { setPolicy } from '../db/policies';
import { projectRoot } from '../worker/config';
import { freePort } from '../worker/dev-server';
import { groupMembers } from './engine-process';
import { eventually, secondsPolicy } from './fixtures';
import { compositePlan } from './http-support';
import { startResendStandin, type ResendStandin } from './resend-standin';
import { deliveriesPerKey, testDataDir } from './support';

const PLANS = 12;
const dir = testDataDir('cluster');

interface ClusterState {
  temporalAddress: string;
  uiUrl: string;
  databaseUrl: string;
  processes: Array<{ name: string; pid: number; restarts: number; url?: string }>;
}

/** A free run of `size` ports for the Temporal services, which sit at fixed offsets from the frontend's. */
async function freePortBlock(size: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 9_000);
    let ok = true;
    for (let p = base; p < base + size && ok; p++) ok = await free(p);
    if (ok) return base;
  }
  throw new Error(`no ${size} free ports in a row between 20000 and 29000`);
}

let standin: ResendStandin;
let cluster: ReturnType<typeof spawn>;
let output = '';
let state: () => ClusterState;
let db: DatabaseHandle;
let connection: Connection;
let httpUrl: string;
let key: string;

async function waitForOutput(text: string, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!output.includes(text)) {
    if (cluster.exitCode !== null) throw new Error(`npm run cluster exited before "${text}":\n${output}`);
    if (Date.now() - started > timeoutMs) throw new Error(`npm run cluster did not print "${text}" within ${timeoutMs} ms:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const processOf = (name: string) => state().processes.find((p) => p.name === name)!;

beforeAll(async () => {
  standin = await startResendStandin();
  const [frontend, uiPort, pgPort, httpPort, metricsPort] = [await freePortBlock(34), await freePort(), await freePort(), await freePort(), await freePortBlock(2)];
  const configFile = path.join(dir, 'temporal.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({ devServer: { port: frontend, uiPort }, postgres: { port: pgPort }, http: { port: httpPort }, metrics: { port: metricsPort }, mail: { ratePerSecond: 50 } }),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DUNNING_CONFIG: configFile,
    DUNNING_DATA_DIR: path.join(dir, 'data'),
    RESEND_API_KEY: 're_cluster_test',
    RESEND_BASE_URL: standin.baseUrl,
  };
  delete env.TEMPORAL_ADDRESS;
  delete env.DATABASE_URL;
  // As a terminal runs `npm run cluster -- --workers 2 --apis 1`: its own process group.
  cluster = spawn(process.execPath, [path.join(projectRoot, 'node_modules/tsx/dist/cli.mjs'), 'worker/cluster.ts', '--workers', '2', '--apis', '1'], {
    cwd: projectRoot,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cluster.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  cluster.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitForOutput('Dunning cluster is running', 300_000);
  const stateFile = path.join(dir, 'data', 'cluster', 'cluster.json');
  state = () => JSON.parse(readFileSync(stateFile, 'utf8')) as ClusterState;
  db = connectDatabase(state().databaseUrl, { max: 2 });
  connection = await Connection.connect({ address: state().temporalAddress });
  httpUrl = processOf('dunning-api-1').url!;
  key = (await createApiKey({ db: db.db }, { name: 'cluster-test', role: 'ops' })).key;
}, 330_000);

afterAll(async () => {
  await connection?.close();
  await db?.close();
  if (cluster?.pid && groupMembers(cluster.pid).length > 0) process.kill(-cluster.pid, 'SIGKILL');
  await standin?.close();
});

async function call(method: string, route: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${httpUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('npm run cluster', () => {
  it('serves the Temporal Web UI from its own server, reading the cluster', async () => {
    const page = await fetch(state().uiUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const namespaces = (await (await fetch(`${state().uiUrl}/api/v1/namespaces`)).json()) as { namespaces: Array<{ namespaceInfo: { name: string } }> };
    expect(namespaces.namespaces.map((n) => n.namespaceInfo.name)).toContain('default');
  });

  it('runs journeys through a worker process killed and Temporal\'s history service killed, each step and email once', async () => {
    const policy = secondsPolicy('cluster', { upcoming_notice: 0, first_reminder: 12, second_reminder: 24, manual_escalation: 36 });
    await setPolicy(db.db, policy);
    const accounts = Array.from({ length: PLANS }, (_, i) => `CLU-${i}`);
    for (const acct of accounts) {
      const created = await call('POST', '/v1/plans', { ...compositePlan(acct), initiate: { policy: policy.name } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    const planIds = accounts.map((a) => `plan-${a}`);

    // A worker process dies while the plans wait for their first reminder…
    await new Promise((r) => setTimeout(r, 6_000));
    const worker = processOf('dunning-worker-1');
    process.kill(worker.pid, 'SIGKILL');
    // …and the history service, which owns every workflow's state, around the first reminders.
    await new Promise((r) => setTimeout(r, 8_000));
    const history = processOf('temporal-history');
    process.kill(history.pid, 'SIGKILL');

    for (const planId of planIds) {
      await eventually(async () => {
        const s = await planStatus({ db: db.db }, { planId });
        return s.steps.every((x) => x.status === 'completed') ? s : undefined;
      }, `${planId} to finish its steps`, 180_000);
    }
    // Both came back under the cluster's supervision, as new processes.
    expect(processOf('dunning-worker-1')).toMatchObject({ restarts: 1 });
    expect(processOf('dunning-worker-1').pid).not.toBe(worker.pid);
    expect(processOf('temporal-history')).toMatchObject({ restarts: 1 });
    expect(output).toContain('temporal-history exited (SIGKILL); starting it again');

    for (const planId of planIds) {
      const paid = await call('POST', `/v1/plans/${planId}/payments`, { paymentId: `${planId}-pay`, amountMinor: 50_000 });
      expect(paid.status).toBe(202);
    }
    for (const planId of planIds) {
      const s = await eventually(async () => {
        const v = await planStatus({ db: db.db }, { planId });
        return v.status === 'resolved' && v.timeline.at(-1)?.kind === 'email_sent' ? v : undefined;
      }, `${planId} to resolve with a receipt`, 60_000);
      const kinds = s.timeline.map((e) => e.kind);
      expect(kinds.filter((k) => k === 'email_sent')).toHaveLength(4); // 3 dunning emails + the receipt
      expect(kinds.filter((k) => k === 'task_created')).toHaveLength(1);
      expect(kinds.filter((k) => k === 'payment')).toHaveLength(1);
    }

    // Each message reached the provider under one idempotency key, once per key at the ledger; a
    // request repeated after a kill carries the same key, which the provider answers without a
    // second email, and there can be at most one per kill.
    const expected = planIds.flatMap((planId) =>
      ['upcoming_notice', 'first_reminder', 'second_reminder', `payment:${planId}-pay:receipt`].map((step) => `${planId}:${step}`),
    );
    const perKey = deliveriesPerKey(standin.deliveries.map((d) => d.idempotencyKey));
    expect(Object.keys(perKey).sort()).toEqual([...expected].sort());
    const repeated = Object.values(perKey).reduce((sum, n) => sum + n - 1, 0);
    expect(repeated).toBeLessThanOrEqual(2);
    const [ledger] = await db.db.execute<{ sent: number; keys: number }>(
      sql`select count(*)::int as sent, count(distinct idempotency_key)::int as keys from email_messages where status = 'sent'`,
    );
    expect(ledger).toEqual({ sent: expected.length, keys: expected.length });

    // Temporal's state and visibility live in PostgreSQL: the list the Web UI shows comes from there.
    const client = new Client({ connection });
    expect((await client.workflow.count('DunningStatus = "resolved"')).count).toBe(PLANS);
    const temporalDb = connectDatabase(state().databaseUrl.replace(/\/[^/]*$/, '/temporal_visibility'), { max: 1 });
    try {
      const [rows] = await temporalDb.db.execute<{ n: number }>(sql`select count(*)::int as n from executions_visibility where workflow_id like 'dunning-plan-CLU-%'`);
      expect(rows!.n).toBe(PLANS);
    } finally {
      await temporalDb.close();
    }
  }, 360_000);

  it('stops every process it started on Ctrl-C', async () => {
    expect(groupMembers(cluster.pid!).length).toBeGreaterThanOrEqual(10);
    process.kill(-cluster.pid!, 'SIGINT'); // what a terminal's Ctrl-C sends: the whole group
    const exited = await new Promise<number | null>((resolve) => cluster.once('exit', (code) => resolve(code)));
    expect(exited).toBe(0);
    await eventually(async () => (groupMembers(cluster.pid!).length === 0 ? true : undefined), 'every process of the cluster to exit', 30_000);
    expect(output).toContain('Stopped cleanly.');
  }, 90_000);
});
