// Commands collections reps use on a plan: promise, escalate, pause, resume, task done, consent.
import { readFileSync } from 'node:fs';
import { setConsent } from '../consent';
import * as dunning from '../dunning';
import { amountFromText, installmentsFromCsv, installmentsFromSchedule, installmentsFromText, instantFromText, planTerms, type InstallmentText } from '../plan-input';
import { args, CliError, optional, required, type Command } from './args';
import { money, when } from './output';

const promise: Command = async (argv, out, session) => {
  const { values, positionals } = args(
    argv,
    { amount: { type: 'string' }, date: { type: 'string' }, rep: { type: 'string' }, schedule: { type: 'string' }, installments: { type: 'string' } },
    ['<planId>'],
  );
  const planId = positionals[0]!;
  const ctx = await session.context();
  const terms = await planTerms(ctx, { planId });
  let installments: InstallmentText[] | undefined;
  if (typeof values.schedule === 'string') {
    installments = installmentsFromSchedule(values.schedule, '--schedule');
  } else if (typeof values.installments === 'string') {
    let text: string;
    try {
      text = readFileSync(values.installments, 'utf8');
    } catch {
      throw new CliError(`Cannot read ${values.installments}.`);
    }
    installments = installmentsFromCsv(text, values.installments);
  }
  const rep = optional(values.rep);
  const amount = optional(values.amount);
  const input = installments
    ? { installments: installmentsFromText(terms, installments), amountMinor: amount === undefined ? undefined : amountFromText(terms, amount, '--amount'), rep }
    : { amountMinor: amountFromText(terms, required(values.amount, 'amount'), '--amount'), dueAt: instantFromText(terms, required(values.date, 'date'), '--date'), rep };
  const result = await dunning.recordPromise(ctx, { planId, ...input });
  out.print(`Promise ${result.promiseId} recorded; plan ${planId} is now ${result.status}.`, { planId, ...result });
};

function stateSummary(state: dunning.PlanStateView): string {
  return `now ${state.status}, ${money(state.outstandingMinor, state)} owed`;
}

const escalate: Command = async (argv, out, session) => {
  const { values, positionals } = args(argv, { reason: { type: 'string' } }, ['<planId>']);
  const result = await dunning.escalate(await session.context(), { planId: positionals[0]!, reason: required(values.reason, 'reason') });
  out.print(`Plan ${positionals[0]} escalated: task ${result.taskId}.`, { planId: positionals[0], ...result });
};

const pause: Command = async (argv, out, session) => {
  const { values, positionals } = args(argv, { reason: { type: 'string' }, until: { type: 'string' } }, ['<planId>']);
  const planId = positionals[0]!;
  const reason = required(values.reason, 'reason');
  const ctx = await session.context();
  // A date alone is the end of that day in the account's time zone, as for a promise.
  const untilText = optional(values.until);
  const until = untilText === undefined ? undefined : instantFromText(await planTerms(ctx, { planId }), untilText, '--until');
  const state = await dunning.pause(ctx, { planId, reason, until });
  out.print(
    state.paused?.until
      ? `Plan ${planId} paused until ${when(state.paused.until)}, when it resumes by itself; \`dunning resume ${planId}\` resumes it sooner.`
      : `Plan ${planId} paused; nothing is sent until \`dunning resume ${planId}\`.`,
    state,
  );
};

const invoice: Command = async (argv, out, session) => {
  const [sub, ...rest] = argv;
  if (sub === 'hold') {
    const { values, positionals } = args(rest, { reason: { type: 'string' }, until: { type: 'string' } }, ['<planId>', '<invoiceNumber>']);
    const [planId, invoiceNumber] = positionals as [string, string];
    const reason = required(values.reason, 'reason');
    const ctx = await session.context();
    const untilText = optional(values.until);
    const until = untilText === undefined ? undefined : instantFromText(await planTerms(ctx, { planId }), untilText, '--until');
    const state = await dunning.holdInvoice(ctx, { planId, invoiceNumber, reason, until });
    out.print(
      `Invoice ${invoiceNumber} of plan ${planId} held${until ? ` until ${when(until)}, when it is collected again by itself` : ''}; the others are still collected, ${stateSummary(state)}. \`dunning invoice release ${planId} ${invoiceNumber}\` releases it${until ? ' sooner' : ''}.`,
      state,
    );
    return;
  }
  if (sub === 'release') {
    const { positionals } = args(rest, {}, ['<planId>', '<invoiceNumber>']);
    const [planId, invoiceNumber] = positionals as [string, string];
    const state = await dunning.releaseInvoice(await session.context(), { planId, invoiceNumber });
    out.print(`Invoice ${invoiceNumber} of plan ${planId} released: collected again, ${stateSummary(state)}.`, state);
    return;
  }
  throw new CliError('Use `dunning invoice hold <planId> <invoiceNumber> --reason TEXT [--until TIME]` or `dunning invoice release <planId> <invoiceNumber>`.');
};

const resume: Command = async (argv, out, session) => {
  const { positionals } = args(argv, {}, ['<planId>']);
  const state = await dunning.resume(await session.context(), { planId: positionals[0]! });
  out.print(`Plan ${positionals[0]} resumed, ${stateSummary(state)}.`, state);
};

const task: Command = async (argv, out, session) => {
  const [sub, ...rest] = argv;
  if (sub !== 'done') throw new CliError('Use `dunning task done <planId> <taskId> --outcome TEXT [--note TEXT]`.');
  const { values, positionals } = args(rest, { outcome: { type: 'string' }, note: { type: 'string' } }, ['<planId>', '<taskId>']);
  const [planId, taskId] = positionals as [string, string];
  const state = await dunning.completeTask(await session.context(), { planId, taskId, outcome: required(values.outcome, 'outcome'), note: optional(values.note) });
  out.print(`Task ${taskId} done; plan ${planId} ${stateSummary(state)}.`, state);
};

const consent: Command = async (argv, out, session) => {
  const { values, positionals } = args(argv, { 'opt-out': { type: 'boolean' }, 'opt-in': { type: 'boolean' } }, ['<email|contactId>']);
  if (Boolean(values['opt-out']) === Boolean(values['opt-in'])) throw new CliError('Give exactly one of --opt-out or --opt-in.');
  const contact = positionals[0]!;
  const choice = values['opt-out'] ? 'opted_out' : 'opted_in';
  const result = await setConsent(await session.database(), { contact, consent: choice });
  out.print(
    choice === 'opted_out'
      ? `${contact} opted out of email (${result.contacts} contact record(s)); their plans go to a rep instead.`
      : `${contact} opted in to email again (${result.contacts} contact record(s)).`,
    { contact, consent: choice, ...result },
  );
};

export const repCommands: Record<string, Command> = { promise, escalate, pause, resume, invoice, task, consent };
