// The embedded Temporal: the CLI's dev server (`temporal server start-dev`) with its SQLite
// file under the data dir, gRPC on devServer.port, the Web UI on devServer.uiPort, and our
// search attributes registered.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ownChild } from './child-processes';
import { devServerUiUrl } from './config';

export interface DevServerHandle {
  address: string;
  uiUrl: string;
  pid: number;
  stop(): Promise<void>;
}

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** Asks the OS for a free TCP port (for tests and throw-away stacks). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startDevServer(opts: {
  cliPath: string;
  dataDir: string;
  ip: string;
  port: number;
  uiPort: number;
  namespace: string;
  searchAttributes: Record<string, string>;
  readyTimeoutMs?: number;
  /** false: keep history in memory (throw-away test servers); default: SQLite under dataDir. */
  persistent?: boolean;
  /** Aborted (Ctrl-C during start-up): the server is stopped, and the call rejects once it has exited. */
  signal?: AbortSignal;
}): Promise<DevServerHandle> {
  for (const [what, port] of [
    ['gRPC', opts.port],
    ['Web UI', opts.uiPort],
  ] as const) {
    if (!(await isPortFree(port, opts.ip))) {
      throw new Error(
        `Port ${port} (Temporal ${what}) is already in use; stop whatever holds it or set devServer ports in temporal.config.json.`,
      );
    }
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const logFile = path.join(opts.dataDir, 'temporal.log');
  const args = [
    'server', 'start-dev',
    ...(opts.persistent === false
      ? []
      : [
          '--db-filename', path.join(opts.dataDir, 'temporal.sqlite'),
          // A write-ahead log synced at checkpoints instead of a rollback journal synced on every
          // commit: a killed server loses nothing, a power cut may lose the last moments.
          '--sqlite-pragma', 'journal_mode=WAL',
          '--sqlite-pragma', 'synchronous=NORMAL',
        ]),
    '--ip', opts.ip,
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    '--namespace', opts.namespace,
    '--log-level', 'warn',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
    ...Object.entries(opts.searchAttributes).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(opts.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  ownChild(child);
  // Ended once both pipes have closed ('close', not 'exit': output can still arrive after the
  // exit, and a write after end() would crash the process).
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  child.once('close', () => log.end());
  const address = `${opts.ip}:${opts.port}`;
  /** SIGTERM, SIGKILL if it is still there 10 s later; resolves once it has exited. */
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const done = exited(child);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    }
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  let lastError: unknown;
  for (;;) {
    if (opts.signal?.aborted) {
      await stop();
      throw opts.signal.reason;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`The Temporal dev server exited (${child.exitCode ?? child.signalCode}) during start-up; see ${logFile}.`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: opts.namespace });
      } finally {
        await connection.close();
      }
      break;
    } catch (err) {
      lastError = err;
      if (Date.now() > deadline) {
        const done = exited(child);
        child.kill('SIGKILL');
        await done;
        throw new Error(`The Temporal dev server did not become ready at ${address}: ${String(lastError)}; see ${logFile}.`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  return {
    address,
    uiUrl: devServerUiUrl(opts),
    pid: child.pid!,
    stop,
  };
}
