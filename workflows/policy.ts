// Dunning policies: plain data (validated with zod at the edges, see db/policies.ts) and the
// pure arithmetic on it. Imported by the workflow, activities, CLI preview and tests alike.

export type StepAction = 'email' | 'task';
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

const DURATION = /^(-)?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Milliseconds in an ISO-8601 duration of weeks, days, hours, minutes and seconds. Days are
 * taken as 24 h here; calendar days across DST are applied by `addDuration` in local time.
 * Years and months are refused: "P1M" after Jan 31 has no single answer a customer expects.
 */
export function parseDuration(text: string): { sign: 1 | -1; days: number; ms: number } | undefined {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text === '-P' || text.endsWith('T')) return undefined;
  const [, neg, w, d, h, min, s] = m;
  const days = Number(w ?? 0) * 7 + Number(d ?? 0);
  const ms = (Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0)) * 1000;
  return { sign: neg ? -1 : 1, days, ms };
}

export function durationMs(text: string): number {
  const d = parseDuration(text);
  if (!d) throw new Error(`"${text}" is not an ISO-8601 duration like P3D or PT5S.`);
  return d.sign * (d.days * 86_400_000 + d.ms);
}

export function parseClock(text: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}
