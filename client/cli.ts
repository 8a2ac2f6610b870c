#!/usr/bin/env tsx
// The `dunning` command line: argument parsing and output over the service layer (the HTTP API
// calls the same verbs). Errors: one sentence on stderr and a non-zero exit, nothing
// half-written. Every command takes --json for machine output.
import { taskOutcomeEffects } from '../workflows/domain/statuses';
import { CliError } from './commands/args';
import { loadCommand } from './commands/index';
import { consoleOutput } from './commands/output';

const usage = `Usage: dunning <command> [options]

  start                                     run the whole local stack (same as npm start)
  worker | api                              one kind of process only, against a running cluster and database
  demo                                      a sample portfolio imported and initiated under a seconds-long policy
  check [--sleep 2s]                        run a small workflow (timer + database read) on the running stack
  import <file.csv>                         accounts, contacts, invoices → one plan per account
  policy set <file.json> | policy list      create or replace a policy; list policies
  segments set <file.json> | segments list [--all]   set the rules that pick a plan's policy (a new version); show them
  preview <planId> [--policy NAME]          the calendar of a plan's steps, nothing started (and which rule picks the policy)
  initiate <planId> [--policy NAME]         start (or find) the plan's journey (without --policy, the segmentation rules pick it)
  status <planId>                           orchestration plan, owed, promises, tasks, timeline
  list [--status S]                         plans with their status and next action
  payment <planId> --payment-id ID --amount 120.50 [--invoice NUMBER]
  promise <planId> --amount 500 --date 2026-12-15 [--rep NAME]
  promise <planId> --schedule 2026-12-01=100,2026-12-15=400 [--rep NAME]   (or --installments FILE.csv: date,amount)
  escalate <planId> --reason TEXT
  pause <planId> --reason TEXT [--until DATE] | resume <planId>   (with --until it resumes by itself then)
  invoice hold <planId> <invoiceNumber> --reason TEXT [--until DATE] | invoice release <planId> <invoiceNumber>   (one invoice out of dunning for a dispute)
  task done <planId> <taskId> --outcome TEXT [--note TEXT]    (${Object.entries(taskOutcomeEffects).map(([o, e]) => `${o}: ${e}`).join('; ')})
  cancel <planId> --reason TEXT
  paylink verify <token>                    a pay link's plan, amount, currency and expiry, and what is owed now
  consent <email|contactId> --opt-out | --opt-in   record a contact's email consent
  template preview <template> <planId> [--out FILE]   render an email to an HTML file
  report aging|promises|recovery|steps [--policy NAME] [--currency USD] [--from DATE --to DATE] [--csv]
                                            how well dunning works: aging (policy, currency), promises by rep, recovery, steps (which step worked)
  forecast [--days 30] [--policy NAME] [--currency USD] [--csv]
                                            emails and tasks due per UTC day ahead (1–90 days), the busiest day's mail drain time
  apikey create --role billing|rep|ops --name NAME | apikey list | apikey revoke ID
  webhook add <url> --events TYPE,TYPE|all  send plan events to a URL (its signing secret shown once)
  webhook list | webhook disable|enable|rotate ID   endpoints; stop or restart sending; a new secret (the old one signs a day more)
  webhook redeliver ID --event EVENT_ID|--since TIME   send one event, or every event since then, again
  webhook test ID                          send one signed test event now and say how the endpoint answered

Every command takes --json for machine output. Money is a decimal in the plan's currency; a date is
YYYY-MM-DD (end of that day in the account's time zone) or a date-time with an offset.`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(usage);
    return;
  }
  const run = await loadCommand(command);
  if (!run) throw new CliError(`Unknown command "${command}"; run \`dunning --help\` for the list.`);
  // Loaded here, not at the top, so `--help` and a mistyped command load no database driver.
  const { Session } = await import('./commands/session');
  const session = new Session();
  try {
    await run(rest, consoleOutput(rest.includes('--json')), session);
  } finally {
    // The processes run until a signal ends them; they open nothing through the session.
    if (!['start', 'worker', 'api'].includes(command)) await session.close();
  }
}

/**
 * Refusals the user can act on, printed as their one sentence; anything else is unexpected.
 * Known by name: their classes live in modules a command may not have loaded.
 */
const refusals = new Set(['CliError', 'ConfigError', 'PolicyError', 'DunningError', 'StartupError']);

main(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  const isKnown = (err instanceof Error && refusals.has(err.name)) || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  console.error(isKnown ? message.split('\n')[0] : `Unexpected error: ${message.split('\n')[0]}`);
  process.exit(1);
});
