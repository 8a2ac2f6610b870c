// Dunning policies: plain data, validated with zod at the edges (see db/policies.ts). Imported
// by the workflow, activities, CLI preview and tests alike.

import type { StepAction } from './statuses';

export type { StepAction };
export type StepAnchor = 'due' | 'initiated';

export interface PolicyStep {
  /** Stable name of the step; part of the email idempotency key, so never reuse one. */
  key: string;
  action: StepAction;
  /** Template name for email steps. */
  template?: string;
  /** ISO-8601 duration from the anchor, negative allowed: "P3D", "-P3D", "PT5S". */
  at: string;
  from: StepAnchor;
  /** An email step may add a late fee to the plan, once however often the step is retried. */
  fee?: LateFee;
}

/**
 * A late fee: a fixed amount, or a percentage of what the invoices still owe, either capped.
 * Amounts are minor units of the plan's currency.
 */
export interface LateFee {
  fixedMinor?: number;
  percent?: number;
  capMinor?: number;
}

/** At most `max` dunning messages to one address on `channel` in any rolling `per` (e.g. 7 in P7D). */
export interface ContactCap {
  channel: 'email';
  max: number;
  per: string;
}

export interface SendWindow {
  /** Local "HH:MM" in the recipient's time zone. */
  from: string;
  to: string;
}

export interface DunningPolicy {
  name: string;
  steps: PolicyStep[];
  maxPromises: number;
  promiseGrace: string;
  /** How far ahead a promised date may be (default P60D). */
  promiseHorizon?: string;
  sendWindow?: SendWindow;
  /** Counted across all of a contact's plans at the moment of sending. */
  contactCap?: ContactCap;
}

/** The fee a step adds when what the invoices still owe is `owedMinor` (0: none). */
export function lateFeeMinor(fee: LateFee, owedMinor: number): number {
  const raw = fee.fixedMinor ?? Math.round((owedMinor * (fee.percent ?? 0)) / 100);
  return Math.max(0, fee.capMinor === undefined ? raw : Math.min(raw, fee.capMinor));
}

export const standardPolicy: DunningPolicy = {
  name: 'standard',
  steps: [
    { key: 'upcoming_notice', action: 'email', template: 'upcoming-invoices', at: 'P0D', from: 'initiated' },
    { key: 'first_reminder', action: 'email', template: 'first-reminder', at: 'P3D', from: 'due' },
    { key: 'second_reminder', action: 'email', template: 'second-reminder', at: 'P10D', from: 'due' },
    { key: 'manual_escalation', action: 'task', at: 'P20D', from: 'due' },
  ],
  maxPromises: 2,
  promiseGrace: 'P2D',
  promiseHorizon: 'P60D',
  sendWindow: { from: '08:00', to: '21:00' },
};
