// What each of the plan page's forms does: read the typed fields in the plan's terms (the same
// readers, so the same sentences, as the CLI) and call the service verb, signed with the rep's
// name for the timeline. A refusal is a DunningError; the routes show it beside the form.
import { cancel, completeTask, escalate, holdInvoice, pause, recordPromise, releaseInvoice, resume } from '../dunning';
import type { DunningContext } from '../context';
import { DunningError } from '../errors';
import { amountFromText, installmentsFromText, instantFromText, planTerms, type InstallmentText } from '../plan-input';
import { words } from './format';
import { INSTALLMENT_ROWS, MAX_INSTALLMENT_ROWS, taskOutcomes, type FormEcho } from './plan-page';

export interface ActionInput {
  planId: string;
  /** The rep's key name: the timeline says who did it. */
  by: string;
  /** Text fields by name (the first value of each). */
  values: Record<string, string>;
  /** Repeated fields (installment rows), in order. */
  lists: Record<string, string[]>;
  taskId?: string;
}

/** Done: the notice the page shows; or the form again (an installment row added or removed). */
export type ActionResult = { done: string } | { again: FormEcho };

const text = (input: ActionInput, name: string) => input.values[name]?.trim() ?? '';

/** A field the form reads itself; a reason or outcome is left to the plan, which says the same on every door. */
function requiredText(input: ActionInput, name: string, label: string): string {
  const value = text(input, name);
  if (!value) throw new DunningError(`${label} is required.`, 'invalid');
  return value;
}

/** The installment rows as typed; rows left wholly empty are not installments. */
function installmentRows(input: ActionInput): InstallmentText[] {
  const dates = input.lists.installmentDate ?? [];
  const amounts = input.lists.installmentAmount ?? [];
  return Array.from({ length: Math.max(dates.length, amounts.length) }, (_, i) => ({ date: dates[i]?.trim() ?? '', amount: amounts[i]?.trim() ?? '' }));
}

async function promise(ctx: DunningContext, input: ActionInput): Promise<ActionResult> {
  const terms = await planTerms(ctx, input);
  if (text(input, 'kind') === 'installments') {
    const typedRows = installmentRows(input);
    const rows = typedRows.length ? typedRows : Array.from({ length: INSTALLMENT_ROWS }, () => ({ date: '', amount: '' }));
    const intent = text(input, 'intent');
    if (intent === 'add-row' || intent === 'remove-row') {
      const next = intent === 'add-row' ? [...rows, { date: '', amount: '' }] : rows.slice(0, -1);
      if (next.length > MAX_INSTALLMENT_ROWS) throw new DunningError(`A payment plan has at most ${MAX_INSTALLMENT_ROWS} installments here.`, 'invalid');
      return { again: { form: 'installments', values: {}, installments: next.length ? next : [{ date: '', amount: '' }] } };
    }
    const typed = rows.filter((r) => r.date || r.amount);
    if (typed.length === 0) throw new DunningError('Enter at least one installment: a date and an amount.', 'invalid');
    const { promiseId } = await recordPromise(ctx, { planId: input.planId, installments: installmentsFromText(terms, typed), rep: input.by });
    return { done: `Promise ${promiseId} recorded with ${typed.length} installment${typed.length === 1 ? '' : 's'}.` };
  }
  const amountMinor = amountFromText(terms, requiredText(input, 'amount', 'Amount'), 'Amount');
  const dueAt = instantFromText(terms, requiredText(input, 'date', 'Pay by'), 'Pay by');
  const { promiseId } = await recordPromise(ctx, { planId: input.planId, amountMinor, dueAt, rep: input.by });
  return { done: `Promise ${promiseId} recorded.` };
}

const outcomeValues: readonly string[] = taskOutcomes.map(([value]) => value);

export const consoleActions: Record<string, (ctx: DunningContext, input: ActionInput) => Promise<ActionResult>> = {
  promise,
  async pause(ctx, input) {
    const reason = text(input, 'reason');
    const untilText = text(input, 'until');
    const until = untilText ? instantFromText(await planTerms(ctx, input), untilText, 'Pause until') : undefined;
    await pause(ctx, { planId: input.planId, reason, until, by: input.by });
    return { done: until ? 'Plan paused; it resumes by itself when the day you gave ends.' : 'Plan paused; nothing is sent until it is resumed.' };
  },
  async hold(ctx, input) {
    const invoiceNumber = text(input, 'invoiceNumber');
    const untilText = text(input, 'until');
    const until = untilText ? instantFromText(await planTerms(ctx, input), untilText, 'Hold until') : undefined;
    await holdInvoice(ctx, { planId: input.planId, invoiceNumber, reason: text(input, 'reason'), until, by: input.by });
    return { done: `Invoice ${invoiceNumber} held; the others are still collected${until ? ', and it comes back by itself when the day you gave ends' : ''}.` };
  },
  async release(ctx, input) {
    const invoiceNumber = text(input, 'invoiceNumber');
    await releaseInvoice(ctx, { planId: input.planId, invoiceNumber, by: input.by });
    return { done: `Invoice ${invoiceNumber} released: collected again.` };
  },
  async resume(ctx, input) {
    await resume(ctx, { planId: input.planId, by: input.by });
    return { done: 'Plan resumed.' };
  },
  async escalate(ctx, input) {
    const { taskId } = await escalate(ctx, { planId: input.planId, reason: text(input, 'reason'), by: input.by });
    return { done: `Escalated: task ${taskId} opened.` };
  },
  async cancel(ctx, input) {
    await cancel(ctx, { planId: input.planId, reason: text(input, 'reason'), by: input.by });
    return { done: 'Plan cancelled.' };
  },
  async complete(ctx, input) {
    const outcome = text(input, 'outcome');
    if (outcome && !outcomeValues.includes(outcome)) throw new DunningError(`There is no task outcome "${outcome}".`, 'invalid');
    const note = text(input, 'note') || undefined;
    if (outcome === 'other' && !note) throw new DunningError('Say what happened in the note when the outcome is "other".', 'invalid');
    await completeTask(ctx, { planId: input.planId, taskId: input.taskId!, outcome, note, by: input.by });
    return { done: `Task ${input.taskId} closed: ${words(outcome)}.` };
  },
};
