// Email templates per milestone: subject, HTML and plain text from the plan's data. Pure and
// clock-free (days overdue are computed from the `asOf` the caller passes), so the same inputs
// render the same bytes and one idempotency key maps to one payload.

export interface EmailInvoice {
  number: string;
  issuedOn: string;
  dueOn: string;
  amountMinor: number;
  openMinor: number;
}

export interface EmailContext {
  contactName: string;
  accountName: string;
  currency: string;
  locale: string;
  timeZone: string;
  invoices: EmailInvoice[];
  outstandingMinor: number;
  /** The day the message is about (YYYY-MM-DD), for "days overdue". */
  asOf: string;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

export const templateNames = ['upcoming-invoices', 'first-reminder', 'second-reminder', 'final-notice'] as const;
export type TemplateName = (typeof templateNames)[number];

const copy: Record<TemplateName, { subject: string; intro: string; close: string }> = {
  'upcoming-invoices': {
    subject: 'Upcoming invoices for {account}: {total} due',
    intro: 'A friendly note that the invoices below fall due soon.',
    close: 'If you have already arranged payment, thank you — no action is needed.',
  },
  'first-reminder': {
    subject: 'Reminder: {total} overdue for {account}',
    intro: 'Our records show the invoices below are now past due.',
    close: 'Please arrange payment at your earliest convenience, or reply if something is wrong.',
  },
  'second-reminder': {
    subject: 'Second reminder: {total} still overdue for {account}',
    intro: 'We have not yet received payment for the invoices below.',
    close: 'Please pay now or reply to agree a date; otherwise our collections team will be in touch.',
  },
  'final-notice': {
    subject: 'Final notice: {total} overdue for {account}',
    intro: 'This is our final notice before the account is passed to our collections team.',
    close: 'Please pay now or contact us today.',
  },
};

export function isTemplateName(name: string): name is TemplateName {
  return (templateNames as readonly string[]).includes(name);
}

export function formatMoney(minor: number, currency: string, locale: string): string {
  const digits = new Intl.NumberFormat(locale, { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(minor / 10 ** digits);
}

export function formatDate(date: string, locale: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, d)));
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
  const total = money(ctx.outstandingMinor);
  const subject = t.subject.replace('{account}', ctx.accountName).replace('{total}', total);
  const rows = ctx.invoices.map((inv) => {
    const overdue = Math.max(0, daysBetween(inv.dueOn, ctx.asOf));
    return {
      number: inv.number,
      issued: formatDate(inv.issuedOn, ctx.locale),
      due: formatDate(inv.dueOn, ctx.locale),
      overdue: overdue > 0 ? `${overdue} days` : '—',
      amount: money(inv.amountMinor),
      open: money(inv.openMinor),
    };
  });

  const text = [
    `Dear ${ctx.contactName},`,
    '',
    t.intro,
    '',
    ...rows.map((r) => `  Invoice ${r.number}  issued ${r.issued}  due ${r.due}  overdue ${r.overdue}  open ${r.open} of ${r.amount}`),
    '',
    `Total owed by ${ctx.accountName}: ${total}`,
    '',
    t.close,
    '',
  ].join('\n');

  const e = escapeHtml;
  const html = [
    '<!doctype html>',
    '<html><body style="font-family:Helvetica,Arial,sans-serif;color:#1f2933">',
    `<p>Dear ${e(ctx.contactName)},</p>`,
    `<p>${e(t.intro)}</p>`,
    '<table style="border-collapse:collapse" cellpadding="6">',
    '<thead><tr><th align="left">Invoice</th><th align="left">Issued</th><th align="left">Due</th><th align="left">Overdue</th><th align="right">Amount</th><th align="right">Open</th></tr></thead>',
    '<tbody>',
    ...rows.map(
      (r) =>
        `<tr><td>${e(r.number)}</td><td>${e(r.issued)}</td><td>${e(r.due)}</td><td>${e(r.overdue)}</td><td align="right">${e(r.amount)}</td><td align="right">${e(r.open)}</td></tr>`,
    ),
    '</tbody>',
    `<tfoot><tr><th colspan="5" align="right">Total owed by ${e(ctx.accountName)}</th><th align="right">${e(total)}</th></tr></tfoot>`,
    '</table>',
    `<p>${e(t.close)}</p>`,
    '</body></html>',
    '',
  ].join('\n');

  return { subject, html, text };
}
