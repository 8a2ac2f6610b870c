// Timeline entries written by more than one writer (the journey, and the db when a payment
// reaches a plan with no journey): one wording, so a plan's timeline reads the same either way.
import type { PlanStatus } from './statuses';

/** "Payment P-1 of $40.00 received; $60.00 still owed". */
export function paymentSummary(paymentId: string, amounts: { amountDisplay: string; owedDisplay: string }): string {
  return `Payment ${paymentId} of ${amounts.amountDisplay} received; ${amounts.owedDisplay} still owed`;
}

/** A code as words: send_to_agency → "send to agency", first_reminder → "first reminder". */
export const words = (code: string): string => code.replace(/_/g, ' ');

/** "Plan written off: …" for the entry that closes a plan. */
export function closedSummary(status: PlanStatus, reason: string): string {
  return `Plan ${words(status)}: ${reason}`;
}
