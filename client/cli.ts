#!/usr/bin/env tsx
// The `dunning` command line: argument parsing and output over the service layer (the HTTP API
// calls the same verbs). Errors: one sentence on stderr and a non-zero exit, nothing
// half-written. Every command takes --json for machine output.
import { PolicyError } from '../db/policies';
import { ConfigError, StartupError } from '../worker/config';
import { taskOutcomeEffects } from '../workflows/domain/statuses';
import { adminCommands } from './commands/admin';
import { CliError, type Command } from './commands/args';
import { consoleOutput } from './commands/output';
import { planCommands } from './commands/plans';
import { repCommands } from './commands/reps';
import { Session } from './commands/session';
import { DunningError } from './errors';

const usage = `Usage: dunning <command> [options]

  start                                     run the whole local stack (same as npm start)
  worker | api                              one kind of process only, against a running cluster and database
  check [--sleep 2s]                        run a small workflow (timer + database read) on the running stack
  import <file.csv>                         accounts, contacts, invoices → one plan per account
  policy set <file.json> | policy list      create or replace a policy; list policies
  preview <planId> [--policy NAME]          the calendar of a plan's steps, nothing started
  initiate <planId> [--policy NAME]         start (or find) the plan's journey
  status <planId>                           orchestration plan, owed, promises, tasks, timeline
  list [--status S]                         plans with their status and next action
  payment <planId> --payment-id ID --amount 120.50 [--invoice NUMBER]
  promise <planId> --amount 500 --date 2026-12-15 [--rep NAME]
  promise <planId> --schedule 2026-12-01=100,2026-12-15=400 [--rep NAME]   (or --installments FILE.csv: date,amount)
  escalate <planId> --reason TEXT
  pause <planId> --reason TEXT | resume <planId>
  task done <planId> <taskId> --outcome TEXT    (${Object.entries(taskOutcomeEffects).map(([o, e]) => `${o}: ${e}`).join('; ')})
  cancel <planId> --reason TEXT
  consent <email|contactId> --opt-out | --opt-in   record a contact's email consent
  template preview <template> <planId> [--out FILE]   render an email to an HTML file
  apikey create --role billing|rep|ops --name NAME | apikey list | apikey revoke ID

Every command takes --json for machine output. Money is a decimal in the plan's currency; a date is
YYYY-MM-DD (end of that day in the account's time zone) or a date-time with an offset.`;

const commands: Record<string, Command> = { ...adminCommands, ...planCommands, ...repCommands };

async function main(argv: string[], session: Session): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(usage);
    return;
  }
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (!run) throw new CliError(`Unknown command "${command}"; run \`dunning --help\` for the list.`);
  await run(rest, consoleOutput(rest.includes('--json')), session);
}

const known = [CliError, ConfigError, PolicyError, DunningError, StartupError];
const session = new Session();
main(process.argv.slice(2), session)
  .then(async () => {
    if (['start', 'worker', 'api'].includes(process.argv[2] ?? '')) return;
    await session.close();
  })
  .catch(async (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    const isKnown = known.some((k) => err instanceof k) || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(isKnown ? message.split('\n')[0] : `Unexpected error: ${message.split('\n')[0]}`);
    await session.close();
    process.exit(1);
  });
