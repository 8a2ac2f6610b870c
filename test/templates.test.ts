// What a customer reads: names, invoice numbers, money and dates in their locale, hostile data
// escaped, the opt-out in words and as headers, a text part, and the same bytes every time.
import { describe, expect, it } from 'vitest';
import { toMime } from '../activities/mail';
import { renderEmail, templateNames, unsubscribeHeaders } from '../templates';
import { sampleEmailContext } from '../templates/sample';

const base = sampleEmailContext;

describe('email templates', () => {
  it('formats euros and dates the German way', () => {
    const { subject, text, html } = renderEmail('first-reminder', base);
    expect(subject).toBe('Reminder: 1.300,50\u00a0€ overdue for Acme GmbH');
    expect(text).toContain('Dear Anna Schmidt,');
    expect(text).toContain('Invoice INV-1001  issued 01.10.2026  due 31.10.2026  overdue 24 days  open 1.200,00\u00a0€ of 1.200,00\u00a0€');
    expect(text).toContain('Invoice INV-1002  issued 15.10.2026  due 14.11.2026  overdue 10 days  open 100,50\u00a0€ of 300,50\u00a0€');
    expect(html).toContain('<td>INV-1002</td>');
    expect(html).toContain('1.300,50\u00a0€');
  });

  it('formats dollars and dates the US way', () => {
    const { subject, text } = renderEmail('second-reminder', { ...base, currency: 'USD', locale: 'en-US' });
    expect(subject).toBe('Second reminder: $1,300.50 still overdue for Acme GmbH');
    expect(text).toContain('issued Oct 1, 2026  due Oct 31, 2026');
    expect(text).toContain('Total owed by Acme GmbH: $1,300.50');
  });

  it('escapes hostile names in HTML and keeps placeholders in names literal', () => {
    const hostile = { ...base, contactName: '<script>alert(1)</script>', accountName: 'Evil "Corp" & {total}' };
    const { html, subject } = renderEmail('first-reminder', hostile);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('Evil &quot;Corp&quot; &amp; {total}');
    expect(subject).toContain('Evil "Corp" & {total}');
  });

  it('escapes the pay URL in the button and writes it as it is in the text', () => {
    const payUrl = 'https://pay.example.test/?a=1&b="><script>x</script>';
    const { html, text } = renderEmail('first-reminder', { ...base, payUrl });
    expect(html).not.toContain('"><script>');
    expect(html).toContain('<a href="https://pay.example.test/?a=1&amp;b=&quot;&gt;&lt;script&gt;x&lt;/script&gt;"');
    expect(text).toContain(`Pay 1.300,50\u00a0€ now: ${payUrl}\n`);
  });

  it.each(templateNames)('%s has a subject, a text part and the opt-out in words and link', (name) => {
    const { subject, text, html } = renderEmail(name, base);
    expect(subject.length).toBeGreaterThan(10);
    expect(text).toContain('To stop these emails, open https://billing.example.com/opt-out/c-1');
    expect(html).toContain('<a href="https://billing.example.com/opt-out/c-1"');
    expect(text).not.toContain('{');
  });

  it('fills promise and payment facts', () => {
    expect(renderEmail('promise-confirmation', { ...base, locale: 'en-US' }).subject).toBe('Confirmed: your payment of €500.00 by Dec 15, 2026');
    expect(renderEmail('payment-receipt', { ...base, locale: 'en-US' }).text).toContain('We received your payment of €200.00 (reference P-77).');
  });

  it('renders the same bytes for the same inputs, down to the MIME message', () => {
    const a = renderEmail('first-reminder', base);
    const b = renderEmail('first-reminder', structuredClone(base));
    expect(b).toEqual(a);
    const message = (r: typeof a) =>
      toMime({ from: 'AR <ar@x.example>', to: 'Anna <anna@x.example>', ...r, idempotencyKey: 'plan-1:first_reminder', headers: unsubscribeHeaders(base.optOutUrl) }, 'id@x');
    expect(message(b)).toBe(message(a));
    expect(message(a)).toContain('List-Unsubscribe: <https://billing.example.com/opt-out/c-1>');
    expect(message(a)).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(message(a)).toContain('Content-Type: text/plain; charset=utf-8');
  });
});
