// What a person types, read in the plan's own terms: money as a decimal in the plan's currency,
// dates as YYYY-MM-DD (end of that day in the account's time zone) or a date-time with an
// offset. The CLI and the HTTP API's forms read input through here, so both refuse alike.
import type { PlanContext } from '../db/plans';
import { parseDateInput } from '../workflows/domain/calendar';
import { parseMoney } from '../workflows/domain/money';
import { requirePlan, type DatabaseContext } from './context';
import { DunningError } from './errors';

/** A plan's currency, locale and time zone: what its input is read in and its output written in. */
export type PlanTerms = Pick<PlanContext, 'planId' | 'status' | 'currency' | 'locale' | 'timeZone'>;

export async function planTerms({ db }: DatabaseContext, input: { planId: string }): Promise<PlanTerms> {
  const { planId, status, currency, locale, timeZone } = await requirePlan(db, input.planId);
  return { planId, status, currency, locale, timeZone };
}

/** Minor units of a positive amount; `what` names the field in the refusal ("--amount"). */
export function amountFromText(terms: Pick<PlanTerms, 'currency'>, text: string, what: string): number {
  const parsed = parseMoney(text, terms.currency);
  if (!parsed.ok) throw new DunningError(`${what} ${parsed.reason}.`, 'invalid');
  if (parsed.minor <= 0) throw new DunningError(`${what} must be more than zero.`, 'invalid');
  return parsed.minor;
}

/** The ISO instant a date input means in the account's time zone. */
export function instantFromText(terms: Pick<PlanTerms, 'timeZone'>, text: string, what: string): string {
  const parsed = parseDateInput(text, terms.timeZone);
  if (!parsed.ok) throw new DunningError(`${what} ${parsed.reason}.`, 'invalid');
  return parsed.at.toISOString();
}

export interface InstallmentText {
  date: string;
  amount: string;
}

/** Installments as typed, numbered from 1 in their refusals. */
export function installmentsFromText(terms: Pick<PlanTerms, 'currency' | 'timeZone'>, items: InstallmentText[]): Array<{ amountMinor: number; dueAt: string }> {
  return items.map(({ date, amount }, i) => ({
    dueAt: instantFromText(terms, date, `Installment ${i + 1} date`),
    amountMinor: amountFromText(terms, amount, `Installment ${i + 1} amount`),
  }));
}

/** "2026-12-01=100,2026-12-15=400": one date=amount pair per installment. */
export function installmentsFromSchedule(text: string, what: string): InstallmentText[] {
  return text.split(',').map((part) => {
    const [date, amount] = part.split('=');
    if (!date || !amount) throw new DunningError(`${what} items look like 2026-12-01=100, not "${part}".`, 'invalid');
    return { date: date.trim(), amount: amount.trim() };
  });
}

/** Lines of "date,amount" (a header line "date,…" is skipped), as a spreadsheet exports them. */
export function installmentsFromCsv(text: string, source: string): InstallmentText[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !/^date\s*,/i.test(line))
    .map((line, i) => {
      const [date, amount] = line.split(',').map((c) => c.trim());
      if (!date || !amount) throw new DunningError(`${source} line ${i + 1}: expected "date,amount".`, 'invalid');
      return { date, amount };
    });
}
