// Calendar arithmetic in the account's time zone. Pure, but kept out of workflow code (lint):
// time-zone data belongs to the machine, so the workflow receives these instants from an
// activity, recorded in its history.
import { parseClock, parseDuration } from './duration';
import { cachedFormat } from './intl';
import type { DunningPolicy, PolicyStep, SendWindow } from './policy';

/** When the business day starts in the account's time zone; the `due` anchor. */
export const BUSINESS_DAY_START = '09:00';

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function formatter(timeZone: string): Intl.DateTimeFormat {
  return cachedFormat(`parts ${timeZone}`, () =>
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    }),
  );
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function localParts(instant: Date, timeZone: string): LocalParts {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(instant).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/** How far the wall clock in `timeZone` is ahead of UTC at `ms`, in ms (whole seconds). */
function offsetAt(ms: number, timeZone: string): number {
  const p = localParts(new Date(ms), timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `timeZone` shows the given local time. Across a DST
 * change it reads as RFC 5545 (iCalendar) and Temporal's "compatible" do: a time shown twice
 * (clocks go back) is its first occurrence; a time skipped (clocks go forward) is read with the
 * offset before the change, so 02:30 on a spring-forward night is 03:30, never 01:30 (an
 * earlier instant would sit before a send window that opens at 02:30, which then waits a day).
 */
export function zonedInstant(local: LocalParts, timeZone: string): Date {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  // The offsets a day either side bracket any change near this wall time (zones are within ±14 h).
  const before = offsetAt(wall - 86_400_000, timeZone);
  const after = offsetAt(wall + 86_400_000, timeZone);
  if (before === after) return new Date(wall - before);
  const shows = (ms: number) => ms + offsetAt(ms, timeZone) === wall;
  const candidates = [wall - before, wall - after].filter(shows);
  return new Date(candidates.length > 0 ? Math.min(...candidates) : wall - before);
}

/** Start of the business day on `date` (YYYY-MM-DD) in the account's time zone. */
export function startOfBusinessDay(date: string, timeZone: string): Date {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  const minutes = parseClock(BUSINESS_DAY_START)!;
  return zonedInstant({ year, month, day, hour: Math.floor(minutes / 60), minute: minutes % 60, second: 0 }, timeZone);
}

/** anchor + duration, with whole days added on the local calendar (a day across DST is 23 or 25 h). */
export function addDuration(anchor: Date, duration: string, timeZone: string): Date {
  const d = parseDuration(duration);
  if (!d) throw new Error(`"${duration}" is not an ISO-8601 duration like P3D or PT5S.`);
  let result = anchor;
  if (d.days) {
    const p = localParts(anchor, timeZone);
    const shifted = new Date(Date.UTC(p.year, p.month - 1, p.day + d.sign * d.days));
    result = zonedInstant(
      { ...p, year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() },
      timeZone,
    );
  }
  return new Date(result.getTime() + d.sign * d.ms);
}

/** The first instant at or after `at` inside the send window, in the recipient's time zone. */
export function nextInSendWindow(at: Date, window: SendWindow | undefined, timeZone: string): Date {
  if (!window) return at;
  const from = parseClock(window.from)!;
  const to = parseClock(window.to)!;
  // from = to is a window of the whole day ("00:00"–"00:00"); read as empty, no email would ever go.
  if (from === to) return at;
  const p = localParts(at, timeZone);
  const now = p.hour * 60 + p.minute;
  const inside = from <= to ? now >= from && now < to : now >= from || now < to;
  if (inside) return at;
  const openOn = (dayOffset: number) => {
    const day = new Date(Date.UTC(p.year, p.month - 1, p.day + dayOffset));
    return zonedInstant(
      { year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(), hour: Math.floor(from / 60), minute: from % 60, second: 0 },
      timeZone,
    );
  };
  const today = openOn(0);
  return today.getTime() > at.getTime() ? today : openOn(1);
}

export interface ScheduledStep extends PolicyStep {
  ordinal: number;
  /** ISO instant when the step falls due (before the send window is applied). */
  scheduledFor: string;
}

/**
 * Each step's time from its anchor. Steps keep policy order: a step whose own time is earlier
 * than the one before it runs right after that one, never before it.
 */
export function computeSchedule(
  policy: Pick<DunningPolicy, 'steps'>,
  anchors: { initiatedAt: Date; dueOn: string },
  timeZone: string,
): ScheduledStep[] {
  const due = startOfBusinessDay(anchors.dueOn, timeZone);
  let previous = -Infinity;
  return policy.steps.map((step, ordinal) => {
    const anchor = step.from === 'due' ? due : anchors.initiatedAt;
    const at = Math.max(addDuration(anchor, step.at, timeZone).getTime(), previous);
    previous = at;
    return { ...step, ordinal, scheduledFor: new Date(at).toISOString() };
  });
}

/**
 * A plan's calendar as initiated at `initiatedAt`: the `due` anchor is the earliest open
 * invoice's due date (invoices oldest due first), or the day of initiation when none is open.
 */
export function planSchedule(
  policy: Pick<DunningPolicy, 'steps'>,
  plan: { invoices: ReadonlyArray<{ dueOn: string }>; timeZone: string },
  initiatedAt: Date,
): { dueOn: string; steps: ScheduledStep[] } {
  const dueOn = plan.invoices[0]?.dueOn ?? initiatedAt.toISOString().slice(0, 10);
  return { dueOn, steps: computeSchedule(policy, { initiatedAt, dueOn }, plan.timeZone) };
}

/** "YYYY-MM-DD" of an instant's local date in `timeZone`. */
export function localDate(instant: Date, timeZone: string): string {
  const p = localParts(instant, timeZone);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

export type ParsedDate = { ok: true; at: Date } | { ok: false; reason: string };

/**
 * A date as people give it (CLI, HTTP, console): YYYY-MM-DD means the end of that day in the
 * account's time zone; an ISO-8601 date-time with an offset (or Z) means that instant, so a
 * demo can run a promise cycle in seconds.
 */
export function parseDateInput(text: string, timeZone: string): ParsedDate {
  const day = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.exec(text);
  if (day) {
    const [year, month, date] = [Number(day[1]), Number(day[2]), Number(day[3])];
    const check = new Date(Date.UTC(year, month - 1, date));
    // Checked for the date-time form too: the JS parser rolls 2026-02-30T10:00Z over to March 2.
    if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== date) {
      return { ok: false, reason: `"${text}" is not a real date` };
    }
    if (!day[4]) return { ok: true, at: zonedInstant({ year, month, day: date, hour: 23, minute: 59, second: 59 }, timeZone) };
    if (!Number.isNaN(Date.parse(text))) return { ok: true, at: new Date(text) };
  }
  return { ok: false, reason: `"${text}" is not a date (YYYY-MM-DD) or a date-time with an offset (2026-12-15T10:00:00Z)` };
}
