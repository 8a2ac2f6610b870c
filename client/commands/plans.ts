// Commands about plans as billing and ops drive them: import, initiate, payment, cancel, and the
// pay page's check of a pay link.
import { createReadStream, statSync } from 'node:fs';
import * as dunning from '../dunning';
import { importCsv } from '../import';
import { verifyPayLink } from '../pay-links';
import { amountFromText, planTerms } from '../plan-input';
import { args, CliError, optional, required, type Command } from './args';
import { money, when } from './output';

const importCommand: Command = async (argv, out, session) => {
  const { positionals } = args(argv, {}, ['<file.csv>']);
  const file = positionals[0]!;
  try {
    if (!statSync(file).isFile()) throw new Error('not a file');
  } catch {
    throw new CliError(`Cannot read ${file}.`);
  }
  const started = Date.now();
  const result = await importCsv(await session.database(), { source: createReadStream(file) });
  const elapsedMs = Date.now() - started;
  const shown = 20; // a big file's plans are a `dunning list` away
  out.print(
    [
      `Imported ${result.rows} row(s) in ${(elapsedMs / 1000).toFixed(1)} s: ${result.accounts} account(s), ${result.invoicesAdded} new invoice(s), ${result.plans.length} open plan(s).`,
      ...result.plans.slice(0, shown).map((p) => `${p.planId}  account ${p.accountId}  ${p.items} item(s)${p.created ? '  (new plan)' : ''}`),
      ...(result.plans.length > shown ? [`… and ${result.plans.length - shown} more; \`dunning list\` shows them all.`] : []),
    ].join('\n'),
    { ...result, elapsedMs },
  );
};

const initiate: Command = async (argv, out, session) => {
  const { values, positionals } = args(argv, { policy: { type: 'string' } }, ['<planId>']);
  const planId = positionals[0]!;
  const result = await dunning.initiateDunning(await session.context(), { planId, policyName: optional(values.policy) });
  out.print(
    result.alreadyRunning
      ? `Plan ${planId} is already running as ${result.workflowId}; nothing new was started.`
      : `Plan ${planId} initiated under policy "${result.policy}"${result.pickedBy ? ` (segmentation rule "${result.pickedBy.rule}", rules version ${result.pickedBy.rulesVersion})` : ''}: workflow ${result.workflowId}.`,
    { planId, ...result },
  );
};

const payment: Command = async (argv, out, session) => {
  const { values, positionals } = args(argv, { 'payment-id': { type: 'string' }, amount: { type: 'string' }, invoice: { type: 'string' } }, ['<planId>']);
  const planId = positionals[0]!;
  const paymentId = required(values['payment-id'], 'payment-id');
  const amountText = required(values.amount, 'amount');
  const ctx = await session.context();
  const amountMinor = amountFromText(await planTerms(ctx, { planId }), amountText, '--amount');
  const result = await dunning.reportPayment(ctx, { planId, paymentId, amountMinor, invoiceNumber: optional(values.invoice) });
  out.print(
    `Payment ${paymentId} of ${money(amountMinor, result)} reported for plan ${planId}` +
      (result.delivered === 'workflow' ? ' (the journey applies it now).' : ' (no running journey: recorded directly).'),
    result,
  );
};

const cancel: Command = async (argv, out, session) => {
  const { values, positionals } = args(argv, { reason: { type: 'string' } }, ['<planId>']);
  const state = await dunning.cancel(await session.context(), { planId: positionals[0]!, reason: required(values.reason, 'reason') });
  out.print(`Plan ${positionals[0]} cancelled.`, state);
};

/** `dunning paylink verify TOKEN`: what the pay page asks over GET /v1/pay-links/verify. */
const paylink: Command = async (argv, out, session) => {
  const [sub, ...rest] = argv;
  if (sub !== 'verify') throw new CliError('Use `dunning paylink verify TOKEN`.');
  const { positionals } = args(rest, {}, ['<token>']);
  const link = await verifyPayLink({ ...(await session.database()), config: session.config() }, { token: positionals[0]! });
  out.print(
    `Pay link for plan ${link.planId} (${link.status}): ${money(link.amountMinor, link)} asked, ${money(link.outstandingMinor, link)} owed now; valid until ${when(link.expiresAt)}.`,
    link,
  );
};

export const planCommands: Record<string, Command> = { import: importCommand, initiate, payment, cancel, paylink };
