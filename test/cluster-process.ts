// `npm run cluster` as a terminal runs it (its own process group), on free ports and a data dir
// of the caller's: for the cluster suite and the scaling benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { projectRoot } from '../worker/config';
import { freePort } from '../worker/dev-server';
import { groupMembers } from './engine-process';

export interface ClusterState {
  temporalAddress: string;
  uiUrl: string;
  databaseUrl: string;
  processes: Array<{ name: string; pid: number; restarts: number; url?: string; metrics?: string; log: string }>;
}

export interface ClusterProcess {
  child: ChildProcess;
  output(): string;
  /** cluster.json as the cluster last wrote it. */
  state(): ClusterState;
  process(name: string): ClusterState['processes'][number];
  /** Ctrl-C as a terminal sends it (the whole group); resolves with the exit code once every process has gone. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL to the whole group, if anything of it is left. */
  kill(): void;
}

/** A free run of `size` ports: the Temporal services sit at fixed offsets from the frontend's. */
export async function freePortBlock(size: number): Promise<number> {
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

/**
 * Starts `npm run cluster -- --workers N --apis M` with its config and data under `dir`, and
 * resolves once it says it is running. `config` adds to the config file; `env` to its environment.
 */
export async function startClusterProcess(
  dir: string,
  opts: { workers: number; apis: number; config?: Record<string, unknown>; env?: NodeJS.ProcessEnv; readyTimeoutMs?: number },
): Promise<ClusterProcess> {
  const [frontend, uiPort, pgPort, httpPort, metricsPort] = [await freePortBlock(34), await freePort(), await freePort(), await freePortBlock(Math.max(1, opts.apis)), await freePortBlock(Math.max(1, opts.workers))];
  const configFile = path.join(dir, 'temporal.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({ devServer: { port: frontend, uiPort }, postgres: { port: pgPort }, http: { port: httpPort }, metrics: { port: metricsPort }, ...opts.config }),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, DUNNING_CONFIG: configFile, DUNNING_DATA_DIR: path.join(dir, 'data'), ...opts.env };
  delete env.TEMPORAL_ADDRESS;
  delete env.DATABASE_URL;
  // node with tsx's loader, as `npm run cluster` runs it but without tsx's watcher process
  // between the terminal and the cluster, so the exit code is the cluster's own.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'worker/cluster.ts', '--workers', String(opts.workers), '--apis', String(opts.apis)],
    { cwd: projectRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const pgid = child.pid!;
  const kill = () => {
    if (groupMembers(pgid).length > 0) process.kill(-pgid, 'SIGKILL');
  };
  const started = Date.now();
  const timeout = opts.readyTimeoutMs ?? 300_000;
  while (!out.includes('Dunning cluster is running')) {
    if (child.exitCode !== null || Date.now() - started > timeout) {
      kill();
      throw new Error(`npm run cluster ${child.exitCode !== null ? `exited with ${child.exitCode}` : `did not start within ${timeout} ms`}:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const stateFile = path.join(dir, 'data', 'cluster', 'cluster.json');
  const state = () => JSON.parse(readFileSync(stateFile, 'utf8')) as ClusterState;
  return {
    child,
    output: () => out,
    state,
    process: (name) => {
      const found = state().processes.find((p) => p.name === name);
      if (!found) throw new Error(`the cluster runs no process named ${name}`);
      return found;
    },
    async stop(timeoutMs = 60_000) {
      const exited = child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      process.kill(-pgid, 'SIGINT');
      const code = await exited;
      const deadline = Date.now() + timeoutMs;
      while (groupMembers(pgid).length > 0) {
        if (Date.now() > deadline) throw new Error(`cluster processes still running ${timeoutMs} ms after Ctrl-C: ${groupMembers(pgid).map((m) => m.command).join('; ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return code;
    },
    kill,
  };
}
