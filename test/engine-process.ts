// Runs `dunning` as users do: one command to its end, or `dunning start` as a real process tree
// (its own process group) for tests that signal it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot, type DunningConfig } from '../worker/config';
import { freePort } from '../worker/dev-server';

/** The `dunning` command as users run it (package.json's bin): the launcher of the compiled CLI. */
export const dunningBin = path.join(projectRoot, 'client/launch.mjs');

const execFileAsync = promisify(execFile);

/** Runs one `dunning` command to its end: its exit code and what it printed. */
export async function runDunning(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [dunningBin, ...args], { cwd: projectRoot, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export interface EngineProcess {
  child: ChildProcess;
  output(): string;
  /** Sends a signal to the whole process group: node, the dev server and PostgreSQL. */
  signal(sig: NodeJS.Signals): void;
  /** Resolves once no process of the group is left; rejects after timeoutMs. */
  gone(timeoutMs: number): Promise<number>;
  /** Resolves once the output contains `text`; rejects if the process exits first or after timeoutMs. */
  waitFor(text: string, timeoutMs: number): Promise<void>;
  /** Resolves when the `dunning start` process itself has exited: its code, or the signal that ended it. */
  exited(): Promise<number | NodeJS.Signals>;
  /** The processes of its group still running (pid and command line), node itself included. */
  members(): GroupMember[];
}

export interface EngineSetup {
  env: NodeJS.ProcessEnv;
  temporalAddress: string;
  /** The embedded servers' ports, when the engine runs its own. */
  ports?: { temporal: number; ui: number; postgres: number; http: number };
  /** Where `dunning start` serves the API (none for a worker alone). */
  httpUrl?: string;
}

/** A config file with free ports and a data dir, as a user would have after `npm start`. */
export async function engineSetup(dataDir: string): Promise<EngineSetup> {
  const [port, uiPort, pgPort, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const configFile = path.join(dataDir, 'temporal.config.json');
  // A metrics port of its own too: engines of test files running at once must not share 9464.
  writeFileSync(configFile, JSON.stringify({ devServer: { port, uiPort }, postgres: { port: pgPort }, http: { port: httpPort }, metrics: { port: metricsPort } }));
  const env: NodeJS.ProcessEnv = { ...process.env, DUNNING_CONFIG: configFile, DUNNING_DATA_DIR: path.join(dataDir, 'data') };
  delete env.TEMPORAL_ADDRESS;
  delete env.DATABASE_URL;
  return {
    env,
    temporalAddress: `127.0.0.1:${port}`,
    ports: { temporal: port, ui: uiPort, postgres: pgPort, http: httpPort },
    httpUrl: `http://127.0.0.1:${httpPort}`,
  };
}

/**
 * `dunning worker` against the suites' shared dev server and PostgreSQL, on the test config's
 * task queues and data dir, with a metrics port of its own (other test files' engines run at the
 * same time); `env` adds to its environment, `mail` to its config file's mail settings.
 */
export async function sharedWorkerSetup(
  config: Pick<DunningConfig, 'dataDir' | 'temporal'>,
  shared: { temporalAddress: string; databaseUrl: string },
  env: NodeJS.ProcessEnv = {},
  mail: Record<string, unknown> = {},
): Promise<EngineSetup> {
  // One file per setup: two workers of one test may run with different settings side by side.
  const configFile = path.join(config.dataDir, `temporal.config.${randomUUID().slice(0, 8)}.json`);
  writeFileSync(configFile, JSON.stringify({ temporal: { taskQueues: config.temporal.taskQueues }, metrics: { port: await freePort() }, mail }));
  return {
    temporalAddress: shared.temporalAddress,
    env: {
      ...process.env,
      DUNNING_CONFIG: configFile,
      DUNNING_DATA_DIR: config.dataDir,
      TEMPORAL_ADDRESS: shared.temporalAddress,
      DATABASE_URL: shared.databaseUrl,
      ...env,
    },
  };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface GroupMember {
  pid: number;
  command: string;
}

/** The live (not zombie) processes of a process group, read from Linux's /proc. */
export function groupMembers(pgid: number): GroupMember[] {
  const members: GroupMember[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses: read after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      members.push({ pid: Number(entry), command: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() });
    } catch {
      // exited while we looked
    }
  }
  return members;
}

/** Spawns `dunning start` (or `dunning worker`) in a process group of its own, as a terminal would run it; does not wait. */
export function spawnEngine(setup: EngineSetup, command: 'start' | 'worker' = 'start'): EngineProcess {
  const child = spawn(process.execPath, [dunningBin, command], {
    cwd: projectRoot,
    env: setup.env,
    detached: true, // own process group, so the test can signal the whole tree like a terminal would
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | NodeJS.Signals>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal!)));
  const pgid = child.pid!;
  return {
    child,
    output: () => out,
    signal: (sig) => process.kill(-pgid, sig),
    async gone(timeoutMs) {
      const started = Date.now();
      while (groupAlive(pgid)) {
        if (Date.now() - started > timeoutMs) throw new Error(`process group ${pgid} still alive after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return Date.now() - started;
    },
    async waitFor(text, timeoutMs) {
      const started = Date.now();
      while (!out.includes(text)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`dunning ${command} exited before printing "${text}":\n${out}`);
        if (Date.now() - started > timeoutMs) throw new Error(`dunning ${command} did not print "${text}" within ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited: () => exit,
    members: () => groupMembers(pgid),
  };
}

/** `dunning start` (the whole stack) or `dunning worker` (workers only, on external services), once ready. */
export async function startEngine(setup: EngineSetup, opts: { command?: 'start' | 'worker'; readyTimeoutMs?: number } = {}): Promise<EngineProcess> {
  const command = opts.command ?? 'start';
  const engine = spawnEngine(setup, command);
  try {
    await engine.waitFor(command === 'start' ? 'Dunning engine is running.' : 'Dunning worker is running.', opts.readyTimeoutMs ?? 180_000);
  } catch (err) {
    if (engine.child.exitCode === null) engine.signal('SIGKILL');
    throw err;
  }
  return engine;
}
