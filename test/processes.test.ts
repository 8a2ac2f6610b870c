// `dunning api` and `dunning worker` as their own processes against a cluster and database that
// are already running (the run's dev server and PostgreSQL), as a team runs N of each: a plan
// created over HTTP by one process is worked by the other. A process that cannot reach what it
// needs says so in one sentence and exits non-zero; /health answers 503 when a part is down.
import { createServer, type AddressInfo } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { createApiKey } from '../client/api-keys';
import { setPolicy } from '../client/policies';
import { createApi } from '../client/http/app';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { projectRoot } from '../worker/config';
import { freePort } from '../worker/dev-server';
import { dunningBin } from './engine-process';
import { eventually, secondsPolicy } from './fixtures';
import { testConfig } from './support';
import { retentionScheduleId } from '../workflows/retention';

interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function dunningProcess(args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, [dunningBin, ...args], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function ready(proc: Proc, banner: string): Promise<void> {
  await eventually(async () => {
    if (proc.child.exitCode !== null) throw new Error(`exited with ${proc.child.exitCode}:\n${proc.output()}`);
    return proc.output().includes(banner) ? true : undefined;
  }, banner, 60_000);
}

let db: DatabaseHandle;
let env: NodeJS.ProcessEnv;
let apiUrl: string;
let taskQueue: string;
const running: Proc[] = [];

beforeAll(async () => {
  db = connectDatabase(inject('databaseUrl'), { max: 2 });
  const config = testConfig('processes');
  taskQueue = config.temporal.taskQueues.dunning;
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  const configFile = path.join(config.dataDir, 'temporal.config.json');
  // A metrics port of its own: other test files' engines run at the same time.
  writeFileSync(configFile, JSON.stringify({ temporal: { taskQueues: config.temporal.taskQueues }, http: { port }, metrics: { port: await freePort() } }));
  env = { ...process.env, DUNNING_CONFIG: configFile, DUNNING_DATA_DIR: config.dataDir, TEMPORAL_ADDRESS: inject('temporalAddress'), DATABASE_URL: inject('databaseUrl') };
});
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await db?.close();
});

describe('dunning api and dunning worker', () => {
  it('serve and work plans as separate processes, and stop cleanly on Ctrl-C', async () => {
    const api = dunningProcess(['api'], env);
    running.push(api);
    await ready(api, 'Dunning API is running.');
    expect(api.output()).toContain(`HTTP API      ${apiUrl}`);
    expect(api.output()).not.toContain('Task queues'); // no workers in this process

    const { key } = await createApiKey({ db: db.db }, { name: 'billing system', role: 'billing' });
    const acct = `PROC-${randomUUID().slice(0, 6)}`;
    const policy = secondsPolicy(`proc-${acct.toLowerCase()}`, { first_reminder: 1, second_reminder: 600 });
    await setPolicy({ db: db.db }, { policy });
    const created = await fetch(`${apiUrl}/v1/plans`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        account: { id: acct, name: 'Split Corp', timezone: 'Etc/UTC', currency: 'EUR' },
        contacts: [{ name: 'Sam', email: `sam+${acct.toLowerCase()}@split.test` }],
        invoices: [{ number: `${acct}-1`, amountMinor: 9_900, issuedOn: '2026-10-01', dueOn: '2026-11-01' }],
        initiate: { policy: policy.name },
      }),
    });
    expect(created.status).toBe(201);
    const planId = ((await created.json()) as { planId: string }).planId;

    // No worker polls the task queue yet: the journey waits, nothing is sent.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection });
      const described = await client.workflow.getHandle(`dunning-${planId}`).describe();
      expect(described.taskQueue).toBe(taskQueue);
    } finally {
      await connection.close();
    }

    const worker = dunningProcess(['worker'], env);
    running.push(worker);
    await ready(worker, 'Dunning worker is running.');
    expect(worker.output()).not.toContain('HTTP API');
    const sent = await eventually(async () => {
      const res = await fetch(`${apiUrl}/v1/plans/${planId}`, { headers: { authorization: `Bearer ${key}` } });
      const plan = (await res.json()) as { timeline: Array<{ kind: string; summary: string }> };
      return plan.timeline.find((e) => e.kind === 'email_sent');
    }, 'the first reminder, sent by the worker process', 60_000);
    expect(sent.summary).toContain('first_reminder');
    // The worker made its retention schedule, pruning webhook history every hour.
    const scheduling = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const schedule = await new Client({ connection: scheduling }).schedule.getHandle(retentionScheduleId(taskQueue)).describe();
      expect(schedule.spec.intervals).toMatchObject([{ every: 3_600_000 }]);
      expect(schedule.action).toMatchObject({ type: 'startWorkflow', workflowType: 'retentionWorkflow', taskQueue, args: [{ keepDays: 30 }] });
    } finally {
      await scheduling.close();
    }
    // The compiled CLI serves the console too: its JSX pages and htmx from node_modules.
    const signIn = await fetch(`${apiUrl}/sign-in`);
    expect(signIn.status).toBe(200);
    expect(await signIn.text()).toContain('<label for="key">');
    const htmx = await fetch(`${apiUrl}/assets/htmx.min.js`);
    expect(htmx.status).toBe(200);
    expect(htmx.headers.get('content-type')).toContain('javascript');

    for (const p of [api, worker]) p.child.kill('SIGINT');
    expect(await api.exited).toBe(0);
    expect(await worker.exited).toBe(0);
    expect(api.output()).toContain('Stopped cleanly');
    await expect(fetch(`${apiUrl}/health`)).rejects.toThrow();
  });

  it('exits non-zero with one sentence when Temporal cannot be reached', async () => {
    const closed = await freePort();
    const api = dunningProcess(['api'], { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${closed}` });
    running.push(api);
    expect(await api.exited).toBe(1);
    expect(api.output().trim().split('\n').pop()).toBe(`Cannot reach Temporal at 127.0.0.1:${closed}; start the engine with \`npm start\` or set TEMPORAL_ADDRESS.`);
  });

  it('exits non-zero with one sentence when its metrics port is taken', async () => {
    const held = createServer();
    const port = await new Promise<number>((resolve) => held.listen(0, '127.0.0.1', () => resolve((held.address() as AddressInfo).port)));
    try {
      const worker = dunningProcess(['worker'], { ...env, DUNNING_METRICS_PORT: String(port) });
      running.push(worker);
      expect(await worker.exited).toBe(1);
      expect(worker.output().trim().split('\n').pop()).toBe(
        `Port ${port} for the worker's metrics (metrics.port) is in use; stop what holds it or set DUNNING_METRICS_PORT to another port.`,
      );
    } finally {
      held.close();
    }
  });

  it('answers /health with 503 and says which part is down', async () => {
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const unreachable = connectDatabase(`postgres://nobody@127.0.0.1:${await freePort()}/none`, { max: 1 });
    try {
      const app = createApi({ ctx: { client: new Client({ connection }), db: unreachable.db, config: testConfig('health') } });
      const res = await app.request('/health');
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unavailable', temporal: 'ok', database: 'unreachable' });
    } finally {
      await unreachable.close();
      await connection.close();
    }
  });
});
