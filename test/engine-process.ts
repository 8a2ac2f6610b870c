// Runs `dunning start` as a real process tree (its own process group) for tests that kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../worker/config';
import { freePort } from '../worker/dev-server';

/** The `dunning` command as users run it (package.json's bin): the launcher of the compiled CLI. */
export const dunningBin = path.join(projectRoot, 'client/launch.mjs');

export interface EngineProcess {
  child: ChildProcess;
  output(): string;
  /** Sends a signal to the whole process group: node, the dev server and PostgreSQL. */
  signal(sig: NodeJS.Signals): void;
  /** Resolves once no process of the group is left; rejects after timeoutMs. */
  gone(timeoutMs: number): Promise<number>;
}

export interface EngineSetup {
  env: NodeJS.ProcessEnv;
  temporalAddress: string;
}

/** A config file with free ports and a data dir, as a user would have after `npm start`. */
export async function engineSetup(dataDir: string): Promise<EngineSetup> {
  const [port, uiPort, pgPort] = [await freePort(), await freePort(), await freePort()];
  const configFile = path.join(dataDir, 'temporal.config.json');
  writeFileSync(configFile, JSON.stringify({ devServer: { port, uiPort }, postgres: { port: pgPort } }));
  const env: NodeJS.ProcessEnv = { ...process.env, DUNNING_CONFIG: configFile, DUNNING_DATA_DIR: path.join(dataDir, 'data') };
  delete env.TEMPORAL_ADDRESS;
  delete env.DATABASE_URL;
  return { env, temporalAddress: `127.0.0.1:${port}` };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startEngine(setup: EngineSetup, readyTimeoutMs = 180_000): Promise<EngineProcess> {
  const child = spawn(process.execPath, [dunningBin, 'start'], {
    cwd: projectRoot,
    env: setup.env,
    detached: true, // own process group, so the test can signal the whole tree like a terminal would
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const pgid = child.pid!;
  const engine: EngineProcess = {
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
  };
  const started = Date.now();
  while (!out.includes('Dunning engine is running.')) {
    if (child.exitCode !== null) throw new Error(`dunning start exited with ${child.exitCode}:\n${out}`);
    if (Date.now() - started > readyTimeoutMs) {
      engine.signal('SIGKILL');
      throw new Error(`dunning start not ready after ${readyTimeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return engine;
}
