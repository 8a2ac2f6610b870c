// Instants as people read them in the engine's own messages: to the minute, in UTC.

/** ISO instant of a millisecond timestamp. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** "2026-12-05 10:00" from an ISO instant or a timestamp, for a table whose heading says UTC. */
export function isoMinute(at: string | number): string {
  return (typeof at === 'number' ? iso(at) : at).slice(0, 16).replace('T', ' ');
}

/** "2026-12-05 10:00 UTC" from an ISO instant or a timestamp. */
export function utcMinute(at: string | number): string {
  return `${isoMinute(at)} UTC`;
}
