#!/usr/bin/env tsx
// The `dunning` command line. Errors: one sentence on stderr and a non-zero exit, nothing
// half-written. Every command takes --json for machine output.
import { randomUUID } from 'node:crypto';
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { computeSchedule, nextInSendWindow, parseDateInput } from '../workflows/domain/calendar';
import { loadPlanContext } from '../activities/plans';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { embeddedDatabaseUrl } from '../db/embedded';
import { getPolicy, listPolicies, parsePolicy, PolicyError, setPolicy } from '../db/policies';
import { isTemplateName, renderEmail, templateNames } from '../templates';
import { formatMoney } from '../workflows/domain/money';
import { optOutUrlFor } from '../activities/step-email';
import { ConfigError, loadConfig, type DunningConfig } from '../worker/config';
import { planStatuses, taskOutcomeEffects, type PlanStatus } from '../workflows/domain/statuses';
import { stackCheckWorkflow } from '../workflows/stack-check';
import { connectClient, type DunningClient } from './connection';
import { setEmailConsent } from './consent';
import * as dunning from './dunning';
import { importCsv } from './import';
import { parseMoney } from '../workflows/domain/money';

import { listPlans, planStatus, type PlanStatusView } from './status';

const usage = `Usage: dunning <command> [options]

  start                                     run the whole local stack (same as npm start)
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

Every command takes --json for machine output. Money is a decimal in the plan's currency; a date is
YYYY-MM-DD (end of that day in the account's time zone) or a date-time with an offset.`;

class CliError extends Error {
  override name = 'CliError';
}

interface Io {
  json: boolean;
  print(human: string, machine: unknown): void;
}

type Options = NonNullable<ParseArgsConfig['options']>;

function args<O extends Options>(argv: string[], options: O, positionals: string[]) {
  // `--amount -5` would read as an option named 5: bind such values to their flag so the
  // command can say what is wrong with the number itself.
  const bound: string[] = [];
  for (const token of argv) {
    const flag = bound[bound.length - 1];
    if (/^-\d/.test(token) && flag?.startsWith('--') && !flag.includes('=') && options[flag.slice(2)]?.type === 'string') {
      bound[bound.length - 1] = `${flag}=${token}`;
    } else bound.push(token);
  }
  const parsed = parseArgs({ args: bound, options: { ...options, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const missing = positionals.slice(parsed.positionals.length);
  if (missing.length > 0) throw new CliError(`Missing ${missing.join(' and ')}; run \`dunning --help\`.`);
  if (parsed.positionals.length > positionals.length) {
    throw new CliError(`Unexpected argument "${parsed.positionals[positionals.length]}"; run \`dunning --help\`.`);
  }
  return parsed;
}

function required(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new CliError(`--${flag} is required.`);
  return value;
}

// --- connections (opened lazily, closed at exit) ----------------------------------------------
let config: DunningConfig | undefined;
let db: DatabaseHandle | undefined;
let temporal: DunningClient | undefined;

function getConfig(): DunningConfig {
  return (config ??= loadConfig());
}

async function getDb(): Promise<DatabaseHandle> {
  if (db) return db;
  const c = getConfig();
  const url = c.postgres.url ?? embeddedDatabaseUrl(c.postgres.port, c.postgres.database);
  const handle = connectDatabase(url, { max: 2 });
  try {
    await handle.sql`select 1`;
  } catch {
    await handle.close();
    throw new CliError(
      c.postgres.url
        ? 'Cannot reach PostgreSQL at DATABASE_URL.'
        : `Cannot reach the embedded PostgreSQL on port ${c.postgres.port}; start the engine with \`npm start\` or set DATABASE_URL.`,
    );
  }
  return (db = handle);
}

async function getContext(): Promise<dunning.DunningContext> {
  const database = await getDb();
  temporal ??= await connectClient(getConfig());
  return { client: temporal.client, db: database.db, config: getConfig() };
}

// --- output helpers ---------------------------------------------------------------------------
const money = (minor: number, currency: string) => formatMoney(minor, currency, 'en-US');
const when = (iso: string | null) => (iso ? iso.slice(0, 16).replace('T', ' ') + ' UTC' : '—');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function describeStatus(s: PlanStatusView): string {
  return [
    `Plan ${s.planId} (${s.accountName}, account ${s.accountId}) — ${s.status}, ${money(s.outstandingMinor, s.currency)} owed`,
    `Workflow ${s.workflowId}${s.policy ? `, policy ${s.policy}` : ''}; next action ${when(s.nextActionAt)}`,
    '',
    table([
      ['STEP', 'ACTION', 'STATUS', 'SCHEDULED', 'COMPLETED', 'REASON'],
      ...s.steps.map((st) => [st.key, st.action, st.status, when(st.scheduledFor), when(st.completedAt), st.reason ?? '']),
    ]),
    ...(s.tasks.length ? ['', 'Tasks:', ...s.tasks.map((t) => `  ${t.id}  ${t.kind}  ${t.status}${t.outcome ? ` (${t.outcome})` : ''}  ${t.reason}`)] : []),
    ...(s.promises.length
      ? [
          '',
          'Promises:',
          ...s.promises.flatMap((p) => [
            `  ${p.id}  ${money(p.amountMinor, s.currency)} by ${when(p.dueOn)}  ${p.status} (paid ${money(p.paidMinor, s.currency)})`,
            ...(p.schedule.length > 1 ? p.schedule.map((i) => `    ${i.seq}. ${money(i.amountMinor, s.currency)} by ${when(i.dueOn)}  ${i.status}`) : []),
          ]),
        ]
      : []),
    '',
    'Timeline:',
    ...s.timeline.map((e) => `  ${when(e.at)}  ${e.kind.padEnd(14)} ${e.summary}`),
  ].join('\n');
}

// --- commands ---------------------------------------------------------------------------------
async function runCheck(argv: string[], io: Io) {
  const { values } = args(argv, { sleep: { type: 'string', default: '2s' } }, []);
  const sleep = String(values.sleep);
  if (!/^\d+(ms|s|m)$/.test(sleep)) throw new CliError(`--sleep must look like 500ms, 2s or 1m, not "${sleep}".`);
  const c = getConfig();
  temporal ??= await connectClient(c);
  const started = Date.now();
  const result = await temporal.client.workflow.execute(stackCheckWorkflow, {
    taskQueue: c.temporal.taskQueues.dunning,
    workflowId: `stack-check-${randomUUID()}`,
    args: [{ sleep: sleep as `${number}s` }],
    staticSummary: 'Stack check: timer, then a database read',
  });
  const ms = Date.now() - started;
  io.print(
    `Stack check completed in ${(ms / 1000).toFixed(1)} s: ${result.migrationsApplied} migration(s) applied, database time ${result.databaseTime}.`,
    { ...result, elapsedMs: ms },
  );
}

async function runImport(argv: string[], io: Io) {
  const { positionals } = args(argv, {}, ['<file.csv>']);
  const file = positionals[0]!;
  try {
    if (!statSync(file).isFile()) throw new Error('not a file');
  } catch {
    throw new CliError(`Cannot read ${file}.`);
  }
  const started = Date.now();
  const result = await importCsv((await getDb()).db, createReadStream(file));
  const elapsedMs = Date.now() - started;
  const shown = 20; // a big file's plans are a `dunning list` away
  io.print(
    [
      `Imported ${result.rows} row(s) in ${(elapsedMs / 1000).toFixed(1)} s: ${result.accounts} account(s), ${result.invoicesAdded} new invoice(s), ${result.plans.length} open plan(s).`,
      ...result.plans.slice(0, shown).map((p) => `${p.planId}  account ${p.accountId}  ${p.items} item(s)${p.created ? '  (new plan)' : ''}`),
      ...(result.plans.length > shown ? [`… and ${result.plans.length - shown} more; \`dunning list\` shows them all.`] : []),
    ].join('\n'),
    { ...result, elapsedMs },
  );
}

async function runPolicy(argv: string[], io: Io) {
  const [sub, ...rest] = argv;
  const database = (await getDb()).db;
  if (sub === 'set') {
    const { positionals } = args(rest, {}, ['<file.json>']);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(positionals[0]!, 'utf8'));
    } catch (err) {
      throw new CliError(`Cannot read ${positionals[0]} as JSON: ${(err as Error).message.replace(/\.$/, '')}.`);
    }
    const policy = parsePolicy(raw);
    const { version } = await setPolicy(database, policy);
    io.print(`Policy "${policy.name}" saved (version ${version}); running plans keep the policy they started with.`, { name: policy.name, version, policy });
    return;
  }
  if (sub === 'list') {
    args(rest, {}, []);
    const policies = await listPolicies(database);
    io.print(
      table([
        ['NAME', 'VERSION', 'STEPS', 'MAX PROMISES', 'SEND WINDOW'],
        ...policies.map((p) => [
          p.name,
          String(p.version),
          p.policy.steps.map((s) => `${s.key}@${s.from}${s.at.startsWith('-') ? '' : '+'}${s.at}`).join(', '),
          String(p.policy.maxPromises),
          p.policy.sendWindow ? `${p.policy.sendWindow.from}-${p.policy.sendWindow.to}` : 'any time',
        ]),
      ]),
      policies,
    );
    return;
  }
  throw new CliError('Use `dunning policy set <file.json>` or `dunning policy list`.');
}

async function runPreview(argv: string[], io: Io) {
  const { values, positionals } = args(argv, { policy: { type: 'string' } }, ['<planId>']);
  const database = (await getDb()).db;
  const planId = positionals[0]!;
  const ctx = await loadPlanContext(database, planId);
  if (!ctx) throw new CliError(`Unknown plan "${planId}".`);
  const policyName = typeof values.policy === 'string' ? values.policy : 'standard';
  const policy = await getPolicy(database, policyName);
  if (!policy) throw new CliError(`Unknown policy "${policyName}"; see \`dunning policy list\`.`);
  const now = new Date();
  const dueOn = ctx.invoices[0]?.dueOn ?? now.toISOString().slice(0, 10);
  const steps = computeSchedule(policy, { initiatedAt: now, dueOn }, ctx.timeZone).map((s) => {
    const sendAt = s.action === 'email' ? nextInSendWindow(new Date(s.scheduledFor), policy.sendWindow, ctx.timeZone) : new Date(s.scheduledFor);
    return { key: s.key, action: s.action, template: s.template ?? null, anchor: s.from, offset: s.at, scheduledFor: s.scheduledFor, sendAt: sendAt.toISOString() };
  });
  io.print(
    [
      `Preview of plan ${planId} under policy "${policy.name}" (if initiated now; earliest due ${dueOn}, ${ctx.timeZone}; ${money(ctx.outstandingMinor, ctx.currency)} owed):`,
      table([['STEP', 'ACTION', 'FROM', 'AT', 'RUNS (UTC)'], ...steps.map((s) => [s.key, s.action, s.anchor, s.offset, when(s.sendAt)])]),
    ].join('\n'),
    { planId, policy: policy.name, timeZone: ctx.timeZone, dueOn, outstandingMinor: ctx.outstandingMinor, steps },
  );
}

async function runInitiate(argv: string[], io: Io) {
  const { values, positionals } = args(argv, { policy: { type: 'string' } }, ['<planId>']);
  const result = await dunning.initiateDunning(await getContext(), {
    planId: positionals[0]!,
    policyName: typeof values.policy === 'string' ? values.policy : undefined,
  });
  io.print(
    result.alreadyRunning
      ? `Plan ${positionals[0]} is already running as ${result.workflowId}; nothing new was started.`
      : `Plan ${positionals[0]} initiated under policy "${result.policy}": workflow ${result.workflowId}.`,
    { planId: positionals[0], ...result },
  );
}

async function runStatus(argv: string[], io: Io) {
  const { positionals } = args(argv, {}, ['<planId>']);
  const view = await planStatus((await getDb()).db, positionals[0]!);
  io.print(describeStatus(view), view);
}

async function runList(argv: string[], io: Io) {
  const { values } = args(argv, { status: { type: 'string' } }, []);
  const status = values.status as string | undefined;
  if (status !== undefined && !(planStatuses as readonly string[]).includes(status)) {
    throw new CliError(`--status must be one of ${planStatuses.join(', ')}.`);
  }
  const rows = await listPlans((await getDb()).db, { status: status as PlanStatus | undefined });
  io.print(
    rows.length === 0
      ? 'No plans.'
      : table([['PLAN', 'ACCOUNT', 'STATUS', 'NEXT STEP', 'NEXT ACTION'], ...rows.map((r) => [r.planId, r.accountName, r.status, r.nextStep ?? '—', when(r.nextActionAt)])]),
    rows,
  );
}

async function runPayment(argv: string[], io: Io) {
  const { values, positionals } = args(
    argv,
    { 'payment-id': { type: 'string' }, amount: { type: 'string' }, invoice: { type: 'string' } },
    ['<planId>'],
  );
  const planId = positionals[0]!;
  const paymentId = required(values['payment-id'], 'payment-id');
  const amountText = required(values.amount, 'amount');
  const ctx = await getContext();
  const plan = await loadPlanContext(ctx.db, planId);
  if (!plan) throw new CliError(`Unknown plan "${planId}".`);
  const amount = parseMoney(amountText, plan.currency);
  if (!amount.ok) throw new CliError(`--amount ${amount.reason}.`);
  if (amount.minor <= 0) throw new CliError('--amount must be more than zero.');
  const invoiceNumber = typeof values.invoice === 'string' ? values.invoice : undefined;
  const result = await dunning.reportPayment(ctx, { planId, paymentId, amountMinor: amount.minor, invoiceNumber });
  io.print(
    `Payment ${paymentId} of ${money(amount.minor, plan.currency)} reported for plan ${planId}` +
      (result.delivered === 'workflow' ? ' (the journey applies it now).' : ' (no running journey: recorded directly).'),
    { planId, paymentId, amountMinor: amount.minor, ...result },
  );
}

async function runPromise(argv: string[], io: Io) {
  const { values, positionals } = args(
    argv,
    { amount: { type: 'string' }, date: { type: 'string' }, rep: { type: 'string' }, schedule: { type: 'string' }, installments: { type: 'string' } },
    ['<planId>'],
  );
  const planId = positionals[0]!;
  const ctx = await getContext();
  const plan = await loadPlanContext(ctx.db, planId);
  if (!plan) throw new CliError(`Unknown plan "${planId}".`);
  const amountOf = (text: string, what: string) => {
    const parsed = parseMoney(text, plan.currency);
    if (!parsed.ok) throw new CliError(`${what} ${parsed.reason}.`);
    if (parsed.minor <= 0) throw new CliError(`${what} must be more than zero.`);
    return parsed.minor;
  };
  const dateOf = (text: string, what: string) => {
    const parsed = parseDateInput(text, plan.timeZone);
    if (!parsed.ok) throw new CliError(`${what} ${parsed.reason}.`);
    return parsed.at.toISOString();
  };
  let pairs: Array<[string, string]> | undefined;
  if (typeof values.schedule === 'string') {
    pairs = values.schedule.split(',').map((part) => {
      const [date, amount] = part.split('=');
      if (!date || !amount) throw new CliError(`--schedule items look like 2026-12-01=100, not "${part}".`);
      return [date.trim(), amount.trim()];
    });
  } else if (typeof values.installments === 'string') {
    let text: string;
    try {
      text = readFileSync(values.installments, 'utf8');
    } catch {
      throw new CliError(`Cannot read ${values.installments}.`);
    }
    pairs = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line && !/^date\s*,/i.test(line))
      .map((line, i) => {
        const [date, amount] = line.split(',').map((c) => c.trim());
        if (!date || !amount) throw new CliError(`${values.installments} line ${i + 1}: expected "date,amount".`);
        return [date, amount];
      });
  }
  const rep = typeof values.rep === 'string' ? values.rep : undefined;
  const input = pairs
    ? {
        installments: pairs.map(([date, amount], i) => ({ dueAt: dateOf(date, `Installment ${i + 1} date`), amountMinor: amountOf(amount, `Installment ${i + 1} amount`) })),
        amountMinor: typeof values.amount === 'string' ? amountOf(values.amount, '--amount') : undefined,
        rep,
      }
    : { amountMinor: amountOf(required(values.amount, 'amount'), '--amount'), dueAt: dateOf(required(values.date, 'date'), '--date'), rep };
  const result = await dunning.recordPromise(ctx, planId, input);
  io.print(`Promise ${result.promiseId} recorded; plan ${planId} is now ${result.status}.`, { planId, ...result });
}

async function runConsent(argv: string[], io: Io) {
  const { values, positionals } = args(argv, { 'opt-out': { type: 'boolean' }, 'opt-in': { type: 'boolean' } }, ['<email|contactId>']);
  if (Boolean(values['opt-out']) === Boolean(values['opt-in'])) throw new CliError('Give exactly one of --opt-out or --opt-in.');
  const consent = values['opt-out'] ? 'opted_out' : 'opted_in';
  const result = await setEmailConsent((await getDb()).db, { contact: positionals[0]!, consent });
  io.print(
    consent === 'opted_out'
      ? `${positionals[0]} opted out of email (${result.contacts} contact record(s)); their plans go to a rep instead.`
      : `${positionals[0]} opted in to email again (${result.contacts} contact record(s)).`,
    { contact: positionals[0], consent, ...result },
  );
}

async function runTemplate(argv: string[], io: Io) {
  const [sub, ...rest] = argv;
  if (sub !== 'preview') throw new CliError('Use `dunning template preview <template> <planId> [--out FILE]`.');
  const { values, positionals } = args(rest, { out: { type: 'string' } }, ['<template>', '<planId>']);
  const [template, planId] = positionals as [string, string];
  if (!isTemplateName(template)) throw new CliError(`Unknown template "${template}"; one of ${templateNames.join(', ')}.`);
  const ctx = await loadPlanContext((await getDb()).db, planId);
  if (!ctx) throw new CliError(`Unknown plan "${planId}".`);
  const rendered = renderEmail(template, {
    contactName: ctx.contact?.name ?? 'Customer',
    accountName: ctx.accountName,
    currency: ctx.currency,
    locale: ctx.locale,
    timeZone: ctx.timeZone,
    invoices: ctx.invoices,
    outstandingMinor: ctx.outstandingMinor,
    asOf: new Date().toISOString().slice(0, 10),
    optOutUrl: optOutUrlFor(getConfig().mail.optOutUrl, ctx.contact?.id ?? 'preview'),
    promise: { amountMinor: ctx.outstandingMinor, dueAt: new Date(Date.now() + 7 * 86_400_000).toISOString(), installments: 1 },
    payment: { amountMinor: ctx.outstandingMinor, paymentId: 'PREVIEW' },
  });
  const out = path.resolve(typeof values.out === 'string' ? values.out : `${template}-${planId}.html`);
  writeFileSync(out, rendered.html);
  io.print(`Wrote ${out} (subject: ${rendered.subject}).`, { file: out, subject: rendered.subject });
}

function stateSummary(state: { status: string; outstandingMinor: number; currency: string }): string {
  return `now ${state.status}, ${money(state.outstandingMinor, state.currency)} owed`;
}

async function runEscalate(argv: string[], io: Io) {
  const { values, positionals } = args(argv, { reason: { type: 'string' } }, ['<planId>']);
  const result = await dunning.escalate(await getContext(), positionals[0]!, required(values.reason, 'reason'));
  io.print(`Plan ${positionals[0]} escalated: task ${result.taskId}.`, { planId: positionals[0], ...result });
}

async function runPause(argv: string[], io: Io) {
  const { values, positionals } = args(argv, { reason: { type: 'string' } }, ['<planId>']);
  const state = await dunning.pause(await getContext(), positionals[0]!, required(values.reason, 'reason'));
  io.print(`Plan ${positionals[0]} paused; nothing is sent until \`dunning resume ${positionals[0]}\`.`, state);
}

async function runResume(argv: string[], io: Io) {
  const { positionals } = args(argv, {}, ['<planId>']);
  const state = await dunning.resume(await getContext(), positionals[0]!);
  io.print(`Plan ${positionals[0]} resumed, ${stateSummary(state)}.`, state);
}

async function runTask(argv: string[], io: Io) {
  const [sub, ...rest] = argv;
  if (sub !== 'done') throw new CliError('Use `dunning task done <planId> <taskId> --outcome TEXT`.');
  const { values, positionals } = args(rest, { outcome: { type: 'string' } }, ['<planId>', '<taskId>']);
  const state = await dunning.completeTask(await getContext(), positionals[0]!, positionals[1]!, required(values.outcome, 'outcome'));
  io.print(`Task ${positionals[1]} done; plan ${positionals[0]} ${stateSummary(state)}.`, state);
}

async function runCancel(argv: string[], io: Io) {
  const { values, positionals } = args(argv, { reason: { type: 'string' } }, ['<planId>']);
  const state = await dunning.cancel(await getContext(), positionals[0]!, required(values.reason, 'reason'));
  io.print(`Plan ${positionals[0]} cancelled.`, state);
}

const commands: Record<string, (argv: string[], io: Io) => Promise<void>> = {
  // Imported lazily: only `start` needs the worker, PostgreSQL and the dev server.
  start: async () => (await import('./start')).runStart(),
  check: runCheck,
  import: runImport,
  policy: runPolicy,
  preview: runPreview,
  initiate: runInitiate,
  status: runStatus,
  list: runList,
  payment: runPayment,
  promise: runPromise,
  escalate: runEscalate,
  pause: runPause,
  resume: runResume,
  task: runTask,
  cancel: runCancel,
  consent: runConsent,
  template: runTemplate,
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(usage);
    return;
  }
  const run = commands[command];
  if (!run) throw new CliError(`Unknown command "${command}"; run \`dunning --help\` for the list.`);
  const json = rest.includes('--json');
  const io: Io = { json, print: (human, machine) => console.log(json ? JSON.stringify(machine, null, 2) : human) };
  await run(rest, io);
}

const known = [CliError, ConfigError, PolicyError, dunning.DunningError];
main(process.argv.slice(2))
  .then(async () => {
    if (process.argv[2] === 'start') return;
    await Promise.allSettled([db?.close(), temporal?.close()]);
  })
  .catch(async (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    const isKnown = known.some((k) => err instanceof k) || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(isKnown ? message.split('\n')[0] : `Unexpected error: ${message.split('\n')[0]}`);
    await Promise.allSettled([db?.close(), temporal?.close()]);
    process.exit(1);
  });
