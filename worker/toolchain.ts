// Finding (or building, once per machine) the Temporal binaries the embedded stack and the
// tests run. The SDK's own download needs the internet; a Go toolchain and Maven Central are
// more often within reach, so we try those first and cache the results under .tools/.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { ownChild } from './child-processes';
import { projectRoot } from './config';

export const TEMPORAL_CLI_VERSION = 'v1.5.1'; // newest tag whose go.mod has no `replace` (go install refuses those)
export const TEST_SERVER_VERSION = '1.38.0';
export const toolsDir = path.join(projectRoot, '.tools');

type Log = (line: string) => void;

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/**
 * Runs a command, streaming nothing; resolves with its combined output or rejects with it.
 * Aborted, it interrupts the command (SIGINT, which `go` passes on to its compilers) and
 * rejects once the command has exited.
 */
function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    ownChild(child);
    const interrupt = () => child.kill('SIGINT');
    opts.signal?.addEventListener('abort', interrupt, { once: true });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      opts.signal?.removeEventListener('abort', interrupt);
      if (opts.signal?.aborted) reject(opts.signal.reason);
      else if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out.slice(-4000)}`));
    });
  });
}

/** Prints "still working" every 30 s so a long first build does not look like a hang. */
async function withProgress<T>(what: string, log: Log, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => log(`  … ${what}: ${Math.round((Date.now() - started) / 1000)} s so far`), 30_000);
  try {
    const result = await work();
    log(`  ${what}: done in ${Math.round((Date.now() - started) / 1000)} s`);
    return result;
  } finally {
    clearInterval(timer);
  }
}

export interface TemporalCli {
  path: string;
  source: 'PATH' | 'TEMPORAL_CLI_PATH' | 'cache' | 'built';
}

/**
 * The Temporal CLI, in the order DESIGN.md gives: `temporal` on PATH → TEMPORAL_CLI_PATH →
 * the cached build in .tools/bin → build it with Go. Undefined means none of these worked and
 * the caller should let the SDK download it.
 */
export async function resolveTemporalCli(
  log: Log,
  env: NodeJS.ProcessEnv = process.env,
  signal?: AbortSignal,
): Promise<TemporalCli | undefined> {
  const fromPath = onPath('temporal', env);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  if (env.TEMPORAL_CLI_PATH) {
    if (!isExecutable(env.TEMPORAL_CLI_PATH)) {
      throw new Error(`TEMPORAL_CLI_PATH points at ${env.TEMPORAL_CLI_PATH}, which is not an executable file.`);
    }
    return { path: env.TEMPORAL_CLI_PATH, source: 'TEMPORAL_CLI_PATH' };
  }
  const binDir = path.join(toolsDir, 'bin');
  const cached = path.join(binDir, 'temporal');
  if (isExecutable(cached)) return { path: cached, source: 'cache' };

  const go = onPath('go', env);
  if (!go) return undefined;
  mkdirSync(binDir, { recursive: true });
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go into ${binDir}`);
  log('  (first run on this machine only; about 3-5 minutes on 2 cores, cached afterwards)');
  await withProgress('go install temporal', log, () =>
    run(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
      env: { ...env, GOBIN: binDir, CGO_ENABLED: '0' },
      signal,
    }),
  );
  if (!isExecutable(cached)) throw new Error(`go install finished but ${cached} is missing.`);
  return { path: cached, source: 'built' };
}

export const TEMPORAL_SERVER_VERSION = 'v1.29.1'; // v1.32 needs a newer Go than this machine has

export interface TemporalServer {
  /** The server binary (`server start`, one process or one per service). */
  server: string;
  /** Temporal's schema tool (`sql create-database | setup-schema | update-schema`). */
  sql: string;
  /** The module's PostgreSQL schemas: temporal/versioned and visibility/versioned under it. */
  schemaDir: string;
  /** The module's dynamic-config file for SQL persistence. */
  dynamicConfig: string;
}

/**
 * The Temporal server and its schema tool, built with Go into .tools/server-<version> once
 * per machine (about 1.5 minutes), for a production-shaped cluster on PostgreSQL.
 */
export async function resolveTemporalServer(log: Log, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<TemporalServer> {
  const go = onPath('go', env);
  if (!go) throw new Error('The Temporal server is built with Go, and no `go` is on PATH.');
  const binDir = path.join(toolsDir, `server-${TEMPORAL_SERVER_VERSION}`);
  const server = path.join(binDir, 'server');
  const sql = path.join(binDir, 'sql');
  const goEnv = { ...env, GOBIN: binDir, CGO_ENABLED: '0' };
  if (!isExecutable(server) || !isExecutable(sql)) {
    mkdirSync(binDir, { recursive: true });
    log(`Building the Temporal server ${TEMPORAL_SERVER_VERSION} and its sql tool with Go into ${binDir} (first run only)`);
    await withProgress('go install server', log, () =>
      run(go, ['install', `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`, `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`], { env: goEnv, signal }),
    );
  }
  // The module's sources (schemas, sample configs) sit in the module cache once built.
  const moduleDir = path.join((await run(go, ['env', 'GOMODCACHE'], { env: goEnv })).trim(), `go.temporal.io/server@${TEMPORAL_SERVER_VERSION}`);
  return {
    server,
    sql,
    schemaDir: path.join(moduleDir, 'schema/postgresql/v12'),
    dynamicConfig: path.join(moduleDir, 'config/dynamicconfig/development-sql.yaml'),
  };
}

/** The Temporal UI server the CLI v1.5.1 embeds (its go.mod's version): built assets ship in its module. */
export const TEMPORAL_UI_VERSION = 'v2.42.1';

/**
 * The Temporal UI server, built with Go into .tools/ui-server-<version> once per machine (about
 * 30 s once the CLI's modules are cached), for the cluster: the Web UI the dev server embeds,
 * as its own process.
 */
export async function resolveTemporalUi(log: Log, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<string> {
  const binDir = path.join(toolsDir, `ui-server-${TEMPORAL_UI_VERSION}`);
  const server = path.join(binDir, 'server');
  if (isExecutable(server)) return server;
  const go = onPath('go', env);
  if (!go) throw new Error('The Temporal UI server is built with Go, and no `go` is on PATH.');
  mkdirSync(binDir, { recursive: true });
  log(`Building the Temporal UI server ${TEMPORAL_UI_VERSION} with Go into ${binDir} (first run only)`);
  await withProgress('go install ui-server', log, () =>
    run(go, ['install', `github.com/temporalio/ui-server/v2/cmd/server@${TEMPORAL_UI_VERSION}`], { env: { ...env, GOBIN: binDir, CGO_ENABLED: '0' }, signal }),
  );
  if (!isExecutable(server)) throw new Error(`go install finished but ${server} is missing.`);
  return server;
}

const testServerPom = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.dunning</groupId>
  <artifactId>temporal-test-server-classpath</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${TEST_SERVER_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;

/**
 * A launcher for Temporal's Java time-skipping test server, fetched from Maven Central into
 * .tools/test-server. The SDK spawns it with `<port>` and waits ~5 s for the port, so the
 * launcher `exec`s the JVM (no orphan on SIGKILL) with flags that keep start-up short.
 */
export async function resolveTestServer(log: Log, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = path.join(toolsDir, `test-server-${TEST_SERVER_VERSION}`);
  const launcher = path.join(dir, 'run');
  const lib = path.join(dir, 'lib');
  if (isExecutable(launcher) && existsSync(lib) && readdirSync(lib).some((f) => f.startsWith('temporal-test-server'))) {
    return launcher;
  }
  const mvn = onPath('mvn', env);
  const java = onPath('java', env);
  if (!mvn || !java) {
    throw new Error('The time-skipping test server needs Java 17+ and Maven on PATH (to fetch io.temporal:temporal-test-server).');
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'pom.xml'), testServerPom);
  log(`Fetching io.temporal:temporal-test-server:${TEST_SERVER_VERSION} with Maven into ${dir}`);
  await withProgress('mvn dependency:copy-dependencies', log, () =>
    run(mvn, ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`], { cwd: dir }),
  );
  writeFileSync(
    launcher,
    [
      '#!/bin/sh',
      '# Generated by worker/toolchain.ts. exec keeps the JVM as the process the SDK kills.',
      `exec "${java}" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss512k -cp "${lib}/*" io.temporal.testserver.TestServer "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(launcher, 0o755);
  return launcher;
}

// `tsx worker/toolchain.ts`: install them all (used by .ci/run and by hand), printing where they are:
// the CLI and the test server for the tests and `npm start`, the server and UI for `npm run cluster`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const log: Log = (line) => console.log(line);
  const started = Date.now();
  const cli = await resolveTemporalCli(log);
  console.log(cli ? `Temporal CLI: ${cli.path} (${cli.source})` : 'Temporal CLI: none found; the SDK will try to download it');
  console.log(`Time-skipping test server: ${await resolveTestServer(log)}`);
  console.log(`Temporal server: ${(await resolveTemporalServer(log)).server}`);
  console.log(`Temporal UI server: ${await resolveTemporalUi(log)}`);
  console.log(`Toolchain ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
