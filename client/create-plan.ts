// The composite create a billing system sends: one account with its contacts and invoices (and
// optionally the start of its journey) in one call. It goes through the CSV import's rules and
// its one transaction, so both doors refuse alike and write all or nothing; the account's open
// plan takes new invoices, so sending the same account twice makes no second plan.
import { z } from 'zod';
import { fieldRules, importRows, type ParsedRow } from './import';
import { initiateDunning, type DunningContext, type PickedBy } from './dunning';
import { requirePolicy } from './context';
import { DunningError } from './errors';
import { planStatus, type PlanStatusView } from './status';

// The bound comes first: 1e300 is too large before it is anything else.
const minor = (name: string) =>
  z
    .number({ message: `${name} must be a number of minor units` })
    .max(Number.MAX_SAFE_INTEGER, `${name} is too large`)
    .int(`${name} must be a whole number of minor units`)
    .positive(`${name} must be more than zero`);

export const CreatePlanInputSchema = z
  .strictObject({
    account: z.strictObject({
      // The plan's id is made from the account's: the HTTP API must be able to name it in a path.
      id: fieldRules.key('account.id'),
      name: fieldRules.name('account.name'),
      timezone: fieldRules.timezone('account.timezone'),
      currency: fieldRules.currency('account.currency'),
      locale: fieldRules.locale('account.locale').optional(),
      segment: fieldRules.segment('account.segment').optional(),
      riskScore: fieldRules.riskScore('account.riskScore').optional(),
    }),
    contacts: z
      .array(
        z.strictObject({
          name: fieldRules.name('contacts[].name'),
          email: fieldRules.email('contacts[].email'),
          emailConsent: fieldRules.consent('contacts[].emailConsent').optional(),
        }),
      )
      .min(1, 'contacts must hold at least one contact')
      .max(20, 'contacts may hold at most 20 contacts'),
    invoices: z
      .array(
        z
          .strictObject({
            number: fieldRules.id('invoices[].number'),
            amountMinor: minor('invoices[].amountMinor'),
            issuedOn: fieldRules.date('invoices[].issuedOn'),
            dueOn: fieldRules.date('invoices[].dueOn'),
          })
          .refine((i) => i.dueOn >= i.issuedOn, { message: 'invoices[].dueOn is before its issuedOn' }),
      )
      .min(1, 'invoices must hold at least one invoice')
      .max(1000, 'invoices may hold at most 1000 invoices')
      .refine((list) => new Set(list.map((i) => i.number.trim())).size === list.length, { message: 'invoices name the same number twice' }),
    initiate: z.strictObject({ policy: fieldRules.id('initiate.policy').optional() }).optional(),
  })
  .refine((b) => new Set(b.contacts.map((c) => c.email.trim().toLowerCase())).size === b.contacts.length, {
    message: 'contacts name the same email twice',
  });
export type CreatePlanInput = z.infer<typeof CreatePlanInputSchema>;

/**
 * Creates (or adds to) the account's open plan, and starts its journey when asked. The rows go
 * to the import as one per invoice with the first (primary) contact, then one per further
 * contact; a conflict with stored data is named by the field it came from.
 */
export async function createPlan(
  ctx: DunningContext,
  input: CreatePlanInput,
): Promise<PlanStatusView & { created: boolean; initiated?: { workflowId: string; alreadyRunning: boolean; policy: string; pickedBy?: PickedBy } }> {
  const { account, contacts, invoices } = input;
  // Refuse an unknown policy before anything is written.
  if (input.initiate) await requirePolicy(ctx.db, input.initiate.policy);
  const [primary] = contacts as [CreatePlanInput['contacts'][number]];
  const row = (line: number, contact: typeof primary, invoice: (typeof invoices)[number]): ParsedRow => ({
    line,
    accountId: account.id.trim(),
    accountName: account.name.trim(),
    contactName: contact.name.trim(),
    contactEmail: contact.email.trim().toLowerCase(),
    timezone: account.timezone.trim(),
    currency: account.currency.trim().toUpperCase(),
    invoiceNumber: invoice.number.trim(),
    amountMinor: invoice.amountMinor,
    issuedOn: invoice.issuedOn.trim(),
    dueOn: invoice.dueOn.trim(),
    emailConsent: contact.emailConsent,
    locale: account.locale?.trim(),
    segment: account.segment,
    riskScore: account.riskScore,
  });
  const rows = [...invoices.map((inv, i) => row(i + 1, primary, inv)), ...contacts.slice(1).map((c, k) => row(invoices.length + k + 1, c, invoices[0]!))];
  const where = (line: number) => (line <= invoices.length ? `invoices[${line - 1}]` : `contacts[${line - invoices.length}]`);
  const imported = await importRows(ctx.db, rows, { where });
  const plan = imported.plans[0];
  if (!plan) throw new DunningError(`Nothing is owed on account ${account.id}: every invoice sent is already paid, so no plan was made.`, 'invalid');
  const initiated = input.initiate ? await initiateDunning(ctx, { planId: plan.planId, policyName: input.initiate.policy }) : undefined;
  const view = await planStatus(ctx, { planId: plan.planId });
  return {
    ...view,
    created: plan.created,
    ...(initiated ? {
          initiated: {
            workflowId: initiated.workflowId,
            alreadyRunning: initiated.alreadyRunning,
            policy: initiated.policy,
            ...(initiated.pickedBy ? { pickedBy: initiated.pickedBy } : {}),
          },
        } : {}),
  };
}
