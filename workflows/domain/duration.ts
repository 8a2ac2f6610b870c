// ISO-8601 durations and wall-clock times as policies write them. Pure arithmetic: the workflow
// uses it for promise grace and horizons; the calendar applies days on the local calendar.

const DURATION = /^(-)?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Weeks, days, hours, minutes and seconds of an ISO-8601 duration. Days are kept apart: the
 * calendar adds them on the local calendar (a day across DST is 23 or 25 h). Years and months
 * are refused: "P1M" after Jan 31 has no single answer a customer expects.
 */
export function parseDuration(text: string): { sign: 1 | -1; days: number; ms: number } | undefined {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text === '-P' || text.endsWith('T')) return undefined;
  const [, neg, w, d, h, min, s] = m;
  const days = Number(w ?? 0) * 7 + Number(d ?? 0);
  const ms = (Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0)) * 1000;
  return { sign: neg ? -1 : 1, days, ms };
}

/** Milliseconds in a duration, days taken as 24 h. */
export function durationMs(text: string): number {
  const d = parseDuration(text);
  if (!d) throw new Error(`"${text}" is not an ISO-8601 duration like P3D or PT5S.`);
  return d.sign * (d.days * 86_400_000 + d.ms);
}

/** Minutes after midnight of a 24-hour "HH:MM"; undefined if it is not one. */
export function parseClock(text: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}
