// Email templates for every message the engine sends: subject, HTML and plain text from the
// plan's data. A typed module rather than React Email: the messages are a table and a few
// sentences, and plain functions render the same bytes for the same inputs with no runtime,
// JSX toolchain or render-time clock (days overdue come from the `asOf` the caller passes), so
// one idempotency key always maps to one payload.

import { cachedFormat } from '../workflows/domain/intl';
import { formatMoney } from '../workflows/domain/money';

export interface EmailInvoice {
  number: string;
  issuedOn: string;
  dueOn: string;
  amountMinor: number;
  openMinor: number;
  /** late_fee: a fee a policy step added (its number says which step); invoice when absent. */
  kind?: 'invoice' | 'late_fee';
}

export interface EmailContext {
  contactName: string;
  accountName: string;
  currency: string;
  /** BCP 47 locale of the account, for money and dates (en-US, de-DE, …). */
  locale: string;
  timeZone: string;
  invoices: EmailInvoice[];
  outstandingMinor: number;
  /** The day the message is about (YYYY-MM-DD), for "days overdue". */
  asOf: string;
  /** Where the contact can stop these emails (also sent as List-Unsubscribe). */
  optOutUrl: string;
  /** The pay page with its signed token (templates/pay-link.ts): a button and a text line when set. */
  payUrl?: string;
  /** Template-specific facts: the promise, the payment. */
  promise?: { amountMinor: number; dueAt: string; installments: number };
  payment?: { amountMinor: number; paymentId: string };
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

export const templateNames = [
  'upcoming-invoices',
  'first-reminder',
  'second-reminder',
  'final-notice',
  'promise-confirmation',
  'promise-broken',
  'payment-receipt',
] as const;
export type TemplateName = (typeof templateNames)[number];

/**
 * Templates the journey sends as transactional (a receipt, a confirmation the customer asked
 * for): no consent check and no pay button. Every other one is sent as a dunning email.
 */
export const transactionalTemplates: readonly TemplateName[] = ['promise-confirmation', 'payment-receipt'];

interface Copy {
  subject: string;
  intro: string;
  close: string;
  /** Show the table of open invoices (not for a receipt of the last payment). */
  table: boolean;
}

// {account} {total} {promise} {promiseDate} {payment} are filled in from the context.
const copy: Record<TemplateName, Copy> = {
  'upcoming-invoices': {
    subject: 'Upcoming invoices for {account}: {total} due',
    intro: 'A friendly note that the invoices below fall due soon.',
    close: 'If you have already arranged payment, thank you — no action is needed.',
    table: true,
  },
  'first-reminder': {
    subject: 'Reminder: {total} overdue for {account}',
    intro: 'Our records show the invoices below are now past due.',
    close: 'Please arrange payment at your earliest convenience, or reply if something is wrong.',
    table: true,
  },
  'second-reminder': {
    subject: 'Second reminder: {total} still overdue for {account}',
    intro: 'We have not yet received payment for the invoices below.',
    close: 'Please pay now or reply to agree a date; otherwise our collections team will be in touch.',
    table: true,
  },
  'final-notice': {
    subject: 'Final notice: {total} overdue for {account}',
    intro: 'This is our final notice before the account is passed to our collections team.',
    close: 'Please pay now or contact us today.',
    table: true,
  },
  'promise-confirmation': {
    subject: 'Confirmed: your payment of {promise} by {promiseDate}',
    intro: 'Thank you for agreeing to pay {promise} by {promiseDate}. We will hold further reminders until then.',
    close: 'If anything changes, reply to this email before the date.',
    table: true,
  },
  'promise-broken': {
    subject: 'We did not receive your promised payment of {promise}',
    intro: 'The payment of {promise} promised for {promiseDate} has not reached us.',
    close: 'Please pay now or reply today; a member of our collections team will contact you.',
    table: true,
  },
  'payment-receipt': {
    subject: 'Payment received: {payment} — thank you',
    intro: 'We received your payment of {payment} (reference {paymentId}). Thank you.',
    close: 'Still open after this payment: {total}.',
    table: false,
  },
};

export function isTemplateName(name: string): name is TemplateName {
  return (templateNames as readonly string[]).includes(name);
}

export function formatDate(date: string, locale: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return cachedFormat(`date ${locale} UTC`, () => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' })).format(new Date(Date.UTC(y, m - 1, d)));
}

function formatInstant(iso: string, locale: string, timeZone: string): string {
  return cachedFormat(`date ${locale} ${timeZone}`, () => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone })).format(new Date(iso));
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function renderEmail(template: TemplateName, ctx: EmailContext): RenderedEmail {
  const t = copy[template];
  const money = (minor: number) => formatMoney(minor, ctx.currency, ctx.locale);
  const facts: Record<string, string> = {
    account: ctx.accountName,
    total: money(ctx.outstandingMinor),
    promise: ctx.promise ? money(ctx.promise.amountMinor) : '',
    promiseDate: ctx.promise ? formatInstant(ctx.promise.dueAt, ctx.locale, ctx.timeZone) : '',
    payment: ctx.payment ? money(ctx.payment.amountMinor) : '',
    paymentId: ctx.payment?.paymentId ?? '',
  };
  // Filled in one pass, so a name containing "{total}" stays literal text.
  const fill = (text: string) => text.replace(/\{(\w+)\}/g, (whole, key: string) => facts[key] ?? whole);
  const subject = fill(t.subject);
  const intro = fill(t.intro);
  const close = fill(t.close);
  const rows = t.table
    ? ctx.invoices.map((inv) => {
        const overdue = Math.max(0, daysBetween(inv.dueOn, ctx.asOf));
        return {
          label: inv.kind === 'late_fee' ? inv.number : `Invoice ${inv.number}`,
          number: inv.number,
          issued: formatDate(inv.issuedOn, ctx.locale),
          due: formatDate(inv.dueOn, ctx.locale),
          overdue: overdue > 0 ? `${overdue} days` : '—',
          amount: money(inv.amountMinor),
          open: money(inv.openMinor),
        };
      })
    : [];
  const optOutWords = `You receive this email because ${ctx.accountName} has invoices with us. To stop these emails, open ${ctx.optOutUrl}`;

  const text = [
    `Dear ${ctx.contactName},`,
    '',
    intro,
    '',
    ...(rows.length
      ? [
          ...rows.map((r) => `  ${r.label}  issued ${r.issued}  due ${r.due}  overdue ${r.overdue}  open ${r.open} of ${r.amount}`),
          '',
          `Total owed by ${ctx.accountName}: ${facts.total}`,
          '',
        ]
      : []),
    ...(ctx.payUrl ? [`Pay ${facts.total} now: ${ctx.payUrl}`, ''] : []),
    close,
    '',
    '--',
    optOutWords,
    '',
  ].join('\n');

  const e = escapeHtml;
  const html = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>' + e(subject) + '</title></head>',
    '<body style="margin:0;padding:24px;background:#f5f7fa;font-family:Helvetica,Arial,sans-serif;color:#1f2933">',
    '<div style="max-width:640px;margin:0 auto;background:#ffffff;border-radius:8px;padding:24px">',
    `<p>Dear ${e(ctx.contactName)},</p>`,
    `<p>${e(intro)}</p>`,
    ...(rows.length
      ? [
          '<table style="border-collapse:collapse;width:100%;font-size:14px" cellpadding="6">',
          '<thead><tr style="background:#eef2f7"><th align="left">Invoice</th><th align="left">Issued</th><th align="left">Due</th><th align="left">Overdue</th><th align="right">Amount</th><th align="right">Open</th></tr></thead>',
          '<tbody>',
          ...rows.map(
            (r) =>
              `<tr style="border-top:1px solid #e4e7eb"><td>${e(r.number)}</td><td>${e(r.issued)}</td><td>${e(r.due)}</td><td>${e(r.overdue)}</td><td align="right">${e(r.amount)}</td><td align="right">${e(r.open)}</td></tr>`,
          ),
          '</tbody>',
          `<tfoot><tr style="border-top:2px solid #1f2933"><th colspan="5" align="right">Total owed by ${e(ctx.accountName)}</th><th align="right">${e(facts.total!)}</th></tr></tfoot>`,
          '</table>',
        ]
      : []),
    ...(ctx.payUrl
      ? [
          '<p style="margin:24px 0">' +
            `<a href="${e(ctx.payUrl)}" style="display:inline-block;background:#1f6feb;color:#ffffff;text-decoration:none;font-weight:bold;padding:12px 24px;border-radius:6px">Pay ${e(facts.total!)} now</a>` +
            '</p>',
        ]
      : []),
    `<p>${e(close)}</p>`,
    '</div>',
    `<p style="max-width:640px;margin:16px auto 0;font-size:12px;color:#616e7c">You receive this email because ${e(ctx.accountName)} has invoices with us. ` +
      `<a href="${e(ctx.optOutUrl)}" style="color:#616e7c">Stop these emails</a>.</p>`,
    '</body></html>',
    '',
  ].join('\n');

  return { subject, html, text };
}

/** The headers that let mail clients offer one-click unsubscribe (RFC 2369 / RFC 8058). */
export function unsubscribeHeaders(optOutUrl: string): Record<string, string> {
  return { 'List-Unsubscribe': `<${optOutUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}
