// One real PostgreSQL and one real Temporal dev server for the whole run, on free ports with
// throw-away data, always torn down. Workflow code is bundled once here and shared by path.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundleWorkflowCode } from '@temporalio/worker';
import { migrateDatabase } from '../db/connection';
import { startEmbeddedPostgres } from '../db/embedded';
import { loadConfig } from '../worker/config';
import { freePort, startDevServer } from '../worker/dev-server';
import { resolveTemporalCli, resolveTemporalServer, resolveTemporalUi, resolveTestServer } from '../worker/toolchain';
import { workflowsPath } from '../worker/worker';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    databaseUrl: string;
    postgresPort: number;
    workflowBundlePath: string;
    testServerPath: string;
    temporalCliPath: string;
    tmpRoot: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => console.log(`[global-setup] ${line}`);
  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'dunning-test-'));
  chmodSync(tmpRoot, 0o755); // PostgreSQL runs as its own user when we are root
  const stops: Array<() => Promise<void>> = [];
  const teardown = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log(`teardown: ${String(err)}`));
    rmSync(tmpRoot, { recursive: true, force: true });
  };

  try {
    const started = Date.now();
    const config = loadConfig({ ...process.env, DUNNING_DATA_DIR: tmpRoot });
    const cli = await resolveTemporalCli(log);
    if (!cli) throw new Error('No Temporal CLI and no Go toolchain: run `npx tsx worker/toolchain.ts` first.');
    const testServerPath = await resolveTestServer(log);
    // Built here (once per machine, no time limit) rather than inside the cluster suite's start-up.
    await resolveTemporalServer(log);
    await resolveTemporalUi(log);

    const [postgresPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
    const [pg, server, bundle] = await Promise.all([
      startEmbeddedPostgres({ dataDir: path.join(tmpRoot, 'shared'), port: postgresPort, database: 'dunning_test', durable: false }),
      startDevServer({
        cliPath: cli.path,
        dataDir: path.join(tmpRoot, 'shared'),
        ip: '127.0.0.1',
        port: temporalPort,
        uiPort,
        namespace: 'default',
        searchAttributes: config.searchAttributes,
        persistent: false,
      }),
      bundleWorkflowCode({ workflowsPath, logger: { log() {}, trace() {}, debug() {}, info() {}, warn: log, error: log } }),
    ]);
    stops.push(pg.stop, server.stop);
    await migrateDatabase(pg.url);
    const workflowBundlePath = path.join(tmpRoot, 'workflow-bundle.js');
    writeFileSync(workflowBundlePath, bundle.code);

    project.provide('temporalAddress', server.address);
    project.provide('databaseUrl', pg.url);
    project.provide('postgresPort', postgresPort);
    project.provide('workflowBundlePath', workflowBundlePath);
    project.provide('testServerPath', testServerPath);
    project.provide('temporalCliPath', cli.path);
    project.provide('tmpRoot', tmpRoot);
    log(`PostgreSQL :${postgresPort}, Temporal ${server.address}, ready in ${Date.now() - started} ms`);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
