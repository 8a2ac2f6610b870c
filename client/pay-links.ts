// The pay page's question about a link from a dunning email: is this token ours, still valid,
// and what does it ask for? One verb for `dunning paylink verify` and GET /v1/pay-links/verify,
// so both doors answer, and refuse, in the same sentence.
import { readPayToken } from '../templates/pay-link';
import type { PlanStatus } from '../workflows/domain/statuses';
import type { DunningConfig } from '../worker/config';
import { requirePlan, type DatabaseContext } from './context';
import { DunningError } from './errors';

export interface VerifiedPayLink {
  planId: string;
  accountId: string;
  /** What the email asked for, as the token carries it. */
  amountMinor: number;
  currency: string;
  expiresAt: string;
  /** What the plan owes now (payments since the email count): the amount to charge at most. */
  outstandingMinor: number;
  status: PlanStatus;
  /** The account's locale, for writing the amounts. */
  locale: string;
}

export async function verifyPayLink(
  ctx: DatabaseContext & { config: Pick<DunningConfig, 'payLink'> },
  input: { token: string; now?: Date },
): Promise<VerifiedPayLink> {
  const reading = readPayToken(input.token.trim(), ctx.config.payLink.signingKey, input.now ?? new Date());
  if (!reading.ok) {
    if (reading.reason === 'malformed') throw new DunningError('The pay token is malformed: it is not the token of a pay link from our emails.', 'pay_token_malformed');
    if (reading.reason === 'unsigned') throw new DunningError('The pay token is not signed by this engine: its signature is missing or does not match what it says.', 'pay_token_unsigned');
    throw new DunningError(`The pay token expired at ${reading.claims.expiresAt.toISOString()}; a newer email from us carries a fresh link.`, 'pay_token_expired');
  }
  const { claims } = reading;
  const plan = await requirePlan(ctx.db, claims.planId);
  return {
    planId: plan.planId,
    accountId: plan.accountId,
    amountMinor: claims.amountMinor,
    currency: claims.currency,
    expiresAt: claims.expiresAt.toISOString(),
    outstandingMinor: plan.outstandingMinor,
    status: plan.status,
    locale: plan.locale,
  };
}
