#!/usr/bin/env tsx
// The `dunning` command line. Each command: one clear sentence on stderr and a non-zero exit
// on bad input; `--json` for machine output.
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../worker/config';
import { stackCheckWorkflow } from '../workflows/stack-check';
import { connectClient } from './connection';

const usage = `Usage: dunning <command> [options]

  start                 run the whole local stack (same as npm start)
  check [--sleep 2s]    run a small workflow (timer + database read) against the running stack

Every command takes --json for machine output.`;

export class CliError extends Error {
  override name = 'CliError';
}

async function runCheck(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { sleep: { type: 'string', default: '2s' }, json: { type: 'boolean' } } });
  if (!/^\d+(ms|s|m)$/.test(values.sleep)) throw new CliError(`--sleep must look like 500ms, 2s or 1m, not "${values.sleep}".`);
  const config = loadConfig();
  const { client, close } = await connectClient(config);
  try {
    const started = Date.now();
    const result = await client.workflow.execute(stackCheckWorkflow, {
      taskQueue: config.temporal.taskQueues.dunning,
      workflowId: `stack-check-${randomUUID()}`,
      args: [{ sleep: values.sleep as `${number}s` }],
      staticSummary: 'Stack check: timer, then a database read',
    });
    const ms = Date.now() - started;
    if (values.json) console.log(JSON.stringify({ ...result, elapsedMs: ms }));
    else console.log(`Stack check completed in ${(ms / 1000).toFixed(1)} s: ${result.migrationsApplied} migration(s) applied, database time ${result.databaseTime}.`);
  } finally {
    await close();
  }
}

const commands: Record<string, (args: string[]) => Promise<void>> = {
  // Imported lazily: only `start` needs the worker, PostgreSQL and the dev server.
  start: async () => (await import('./start')).runStart(),
  check: runCheck,
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(usage);
    return;
  }
  const run = commands[command];
  if (!run) throw new CliError(`Unknown command "${command}"; run \`dunning --help\` for the list.`);
  await run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  console.error(message.split('\n')[0]);
  process.exit(1);
});
