// Dates on the command line: YYYY-MM-DD means the end of that day in the account's time zone;
// an ISO-8601 date-time with an offset (or Z) means that instant, so a demo can run in seconds.
import { zonedInstant } from '../activities/calendar';

export type ParsedDate = { ok: true; at: Date } | { ok: false; reason: string };

export function parseCliDate(text: string, timeZone: string): ParsedDate {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const [year, month, date] = [Number(day[1]), Number(day[2]), Number(day[3])];
    const check = new Date(Date.UTC(year, month - 1, date));
    if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== date) {
      return { ok: false, reason: `"${text}" is not a real date` };
    }
    return { ok: true, at: zonedInstant({ year, month, day: date, hour: 23, minute: 59, second: 59 }, timeZone) };
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) && !Number.isNaN(Date.parse(text))) {
    return { ok: true, at: new Date(text) };
  }
  return { ok: false, reason: `"${text}" is not a date (YYYY-MM-DD) or a date-time with an offset (2026-12-15T10:00:00Z)` };
}
