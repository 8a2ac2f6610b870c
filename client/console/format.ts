// How the console writes money, dates and times: amounts and calendar dates as the account's
// locale writes them, instants in the signed-in rep's time zone.
import { formatDate } from '../../templates';
import { cachedFormat } from '../../workflows/domain/intl';
import { formatMoney } from '../../workflows/domain/money';

export interface AccountTerms {
  currency: string;
  locale: string;
}

export const money = (minor: number, terms: AccountTerms) => formatMoney(minor, terms.currency, terms.locale);

/** A calendar date (YYYY-MM-DD, or an instant's date in UTC) in the account's locale. */
export const calendarDate = (date: string, terms: Pick<AccountTerms, 'locale'>) => formatDate(date.slice(0, 10), terms.locale);

/** An instant in the rep's time zone, with the zone's name, in the account's locale. */
export function timeIn(iso: string, terms: Pick<AccountTerms, 'locale'>, timeZone: string): string {
  return cachedFormat(`console time ${terms.locale} ${timeZone}`, () =>
    new Intl.DateTimeFormat(terms.locale, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone, timeZoneName: 'short' }),
  ).format(new Date(iso));
}

/** manual_escalation → "manual escalation". */
export { words } from '../../workflows/domain/timeline';
