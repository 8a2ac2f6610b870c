// A sample plan for looking at templates (screenshot, previews) and for their content tests.
import type { EmailContext } from './index';
import { payLinkUrl } from './pay-link';

/** A made-up key: the sample's token has the real shape, and no engine's key signed it. */
const sampleKey = Buffer.alloc(32, 7);

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
  payUrl: payLinkUrl(
    { urlTemplate: 'https://billing.example.com/pay/{planId}', ttlMs: 30 * 86_400_000, key: sampleKey },
    { planId: 'plan-ACME', amountMinor: 130_050, currency: 'EUR', sentAt: new Date('2026-11-24T09:00:00.000Z') },
  ),
  promise: { amountMinor: 50_000, dueAt: '2026-12-15T22:59:59.000Z', installments: 1 },
  payment: { amountMinor: 20_000, paymentId: 'P-77' },
};
