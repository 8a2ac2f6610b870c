// The facts an email is rendered from, assembled from a plan the same way for the message the
// journey sends and for the preview a person asks for.
import type { PlanContext } from '../db/plans';
import { localDate } from '../workflows/domain/calendar';
import type { EmailContext } from './index';
import { payLinkUrl, type PayLinkSettings } from './pay-link';

/** The contact's own opt-out link: `{contactId}` in the configured URL filled in. */
export function optOutUrlFor(template: string, contactId: string): string {
  return template.replace('{contactId}', encodeURIComponent(contactId));
}

/**
 * The email context of a plan at an instant: "days overdue" count from that instant's date in
 * the account's time zone, and a pay link (when `payLink` is given) for what is owed, expiring
 * its ttl after that instant. A plan without a contact (a preview) reads "Customer".
 */
export function emailContextFor(
  plan: PlanContext,
  opts: { at: Date; optOutUrl: string; payLink?: PayLinkSettings; promise?: EmailContext['promise']; payment?: EmailContext['payment'] },
): EmailContext {
  return {
    contactName: plan.contact?.name ?? 'Customer',
    accountName: plan.accountName,
    currency: plan.currency,
    locale: plan.locale,
    timeZone: plan.timeZone,
    invoices: plan.invoices,
    outstandingMinor: plan.outstandingMinor,
    asOf: localDate(opts.at, plan.timeZone),
    optOutUrl: optOutUrlFor(opts.optOutUrl, plan.contact?.id ?? 'preview'),
    payUrl: opts.payLink && payLinkUrl(opts.payLink, { planId: plan.planId, amountMinor: plan.outstandingMinor, currency: plan.currency, sentAt: opts.at }),
    promise: opts.promise,
    payment: opts.payment,
  };
}
