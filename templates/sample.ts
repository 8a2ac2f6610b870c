// A sample plan for looking at templates (screenshot, previews) and for their content tests.
import type { EmailContext } from './index';

export const sampleEmailContext: EmailContext = {
  contactName: 'Anna Schmidt',
  accountName: 'Acme GmbH',
  currency: 'EUR',
  locale: 'de-DE',
  timeZone: 'Europe/Berlin',
  invoices: [
    { number: 'INV-1001', issuedOn: '2026-10-01', dueOn: '2026-10-31', amountMinor: 120_000, openMinor: 120_000 },
    { number: 'INV-1002', issuedOn: '2026-10-15', dueOn: '2026-11-14', amountMinor: 30_050, openMinor: 10_050 },
  ],
  outstandingMinor: 130_050,
  asOf: '2026-11-24',
  optOutUrl: 'https://billing.example.com/opt-out/c-1',
  promise: { amountMinor: 50_000, dueAt: '2026-12-15T22:59:59.000Z', installments: 1 },
  payment: { amountMinor: 20_000, paymentId: 'P-77' },
};
