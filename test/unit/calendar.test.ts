// Calendar arithmetic in the account's time zone, without a server. Expected instants are
// worked out by hand from the 2026 DST dates, with the offset reasoning next to each:
//   America/New_York  EST = UTC-5, EDT = UTC-4; forward Sun 2026-03-08 02:00 EST (07:00Z),
//                     back Sun 2026-11-01 02:00 EDT (06:00Z).
//   Europe/Berlin     CET = UTC+1, CEST = UTC+2; forward Sun 2026-03-29 01:00Z, back Sun 2026-10-25 01:00Z.
//   Australia/Sydney  AEST = UTC+10, AEDT = UTC+11; back Sun 2026-04-05 03:00 AEDT (16:00Z on the 4th).
import { describe, expect, it } from 'vitest';
import {
  addDuration,
  computeSchedule,
  isValidTimeZone,
  localDate,
  nextInSendWindow,
  parseDateInput,
  startOfBusinessDay,
  zonedInstant,
} from '../../workflows/domain/calendar';
import { standardPolicy, type PolicyStep } from '../../workflows/domain/policy';

const NY = 'America/New_York';
const BERLIN = 'Europe/Berlin';
const iso = (d: Date) => d.toISOString();
const at = (text: string) => new Date(text);
const local = (year: number, month: number, day: number, hour: number, minute: number) => ({ year, month, day, hour, minute, second: 0 });

describe('startOfBusinessDay (the due anchor: 09:00 in the account zone)', () => {
  it.each([
    ['2026-03-07', NY, '2026-03-07T14:00:00.000Z'], // 09:00 EST (-5)
    ['2026-03-08', NY, '2026-03-08T13:00:00.000Z'], // DST began at 02:00: 09:00 EDT (-4)
    ['2026-10-31', NY, '2026-10-31T13:00:00.000Z'], // 09:00 EDT (-4)
    ['2026-11-01', NY, '2026-11-01T14:00:00.000Z'], // DST ended at 02:00: 09:00 EST (-5)
    ['2026-03-28', BERLIN, '2026-03-28T08:00:00.000Z'], // 09:00 CET (+1)
    ['2026-03-29', BERLIN, '2026-03-29T07:00:00.000Z'], // 09:00 CEST (+2)
    ['2026-04-04', 'Australia/Sydney', '2026-04-03T22:00:00.000Z'], // 09:00 AEDT (+11): the UTC date is the day before
    ['2026-04-05', 'Australia/Sydney', '2026-04-04T23:00:00.000Z'], // 09:00 AEST (+10)
    ['2026-12-05', 'Asia/Kolkata', '2026-12-05T03:30:00.000Z'], // +05:30, a half-hour zone
    ['2026-12-05', 'UTC', '2026-12-05T09:00:00.000Z'],
  ])('%s in %s is %s', (date, zone, expected) => {
    expect(iso(startOfBusinessDay(date, zone))).toBe(expected);
  });
});

describe('addDuration', () => {
  it('adds whole days on the local calendar: P1D at 09:00 stays 09:00 across both DST changes', () => {
    // NY spring forward: the day is 23 h long.
    expect(iso(addDuration(at('2026-03-07T14:00:00Z'), 'P1D', NY))).toBe('2026-03-08T13:00:00.000Z');
    // NY fall back: the day is 25 h long (09:00 EDT = 13:00Z → 09:00 EST = 14:00Z).
    expect(iso(addDuration(at('2026-10-31T13:00:00Z'), 'P1D', NY))).toBe('2026-11-01T14:00:00.000Z');
    // Berlin, both directions (09:00 CET = 08:00Z, 09:00 CEST = 07:00Z).
    expect(iso(addDuration(at('2026-03-28T08:00:00Z'), 'P1D', BERLIN))).toBe('2026-03-29T07:00:00.000Z');
    expect(iso(addDuration(at('2026-10-24T07:00:00Z'), 'P1D', BERLIN))).toBe('2026-10-25T08:00:00.000Z');
  });

  it('adds weeks as seven local days', () => {
    // Wed 2026-03-04 09:00 EST → Wed 2026-03-11 09:00 EDT.
    expect(iso(addDuration(at('2026-03-04T14:00:00Z'), 'P1W', NY))).toBe('2026-03-11T13:00:00.000Z');
  });

  it('goes back for a negative duration (a pre-due notice), across the change too', () => {
    // 09:00 EDT on 2026-03-10 (13:00Z) minus 3 days is 09:00 EST on 2026-03-07 (14:00Z).
    expect(iso(addDuration(at('2026-03-10T13:00:00Z'), '-P3D', NY))).toBe('2026-03-07T14:00:00.000Z');
    expect(iso(addDuration(at('2026-03-08T13:00:00Z'), '-P1D', NY))).toBe('2026-03-07T14:00:00.000Z');
  });

  it('adds hours, minutes and seconds as elapsed time, not wall-clock time', () => {
    // PT24H over the 23-hour day lands at 10:00 EDT, an hour later on the wall than P1D would.
    expect(iso(addDuration(at('2026-03-07T14:00:00Z'), 'PT24H', NY))).toBe('2026-03-08T14:00:00.000Z');
    expect(iso(addDuration(at('2026-12-05T10:00:00Z'), 'PT5S', NY))).toBe('2026-12-05T10:00:05.000Z');
    expect(iso(addDuration(at('2026-12-05T10:00:00Z'), 'PT1.5S', NY))).toBe('2026-12-05T10:00:01.500Z');
    // Days first on the calendar, then the time part: 09:00 EDT on the 8th + 2 h = 15:00Z.
    expect(iso(addDuration(at('2026-03-07T14:00:00Z'), 'P1DT2H', NY))).toBe('2026-03-08T15:00:00.000Z');
    expect(iso(addDuration(at('2026-12-05T10:00:00Z'), '-PT30M', NY))).toBe('2026-12-05T09:30:00.000Z');
  });

  it('keeps the exact anchor for P0D and rolls over month ends', () => {
    expect(iso(addDuration(at('2026-12-05T10:00:00.123Z'), 'P0D', NY))).toBe('2026-12-05T10:00:00.123Z');
    expect(iso(addDuration(at('2026-01-30T09:00:00Z'), 'P3D', 'UTC'))).toBe('2026-02-02T09:00:00.000Z');
  });

  it('lands a wall time that the spring-forward night skips one hour later, not earlier', () => {
    // 02:30 EST on the 7th (07:30Z) + P1D: 02:30 does not exist on the 8th; read with the offset
    // before the change (-5) it is 07:30Z = 03:30 EDT, 24 h later. 01:30 EST would be 23 h.
    expect(iso(addDuration(at('2026-03-07T07:30:00Z'), 'P1D', NY))).toBe('2026-03-08T07:30:00.000Z');
  });

  it('refuses months and years with the sentence the CLI shows', () => {
    expect(() => addDuration(at('2026-01-31T09:00:00Z'), 'P1M', NY)).toThrow('"P1M" is not an ISO-8601 duration like P3D or PT5S.');
  });
});

describe('zonedInstant', () => {
  it('finds the instant of an ordinary wall time', () => {
    expect(iso(zonedInstant(local(2026, 7, 4, 12, 0), NY))).toBe('2026-07-04T16:00:00.000Z'); // EDT (-4)
    expect(iso(zonedInstant(local(2026, 1, 15, 0, 0), BERLIN))).toBe('2026-01-14T23:00:00.000Z'); // CET (+1)
  });

  it('reads a skipped wall time with the offset before the change (RFC 5545), in both zones', () => {
    // NY 02:30 on 2026-03-08 never shows; at -5 it is 07:30Z, which the clock shows as 03:30 EDT.
    expect(iso(zonedInstant(local(2026, 3, 8, 2, 30), NY))).toBe('2026-03-08T07:30:00.000Z');
    // Berlin 02:30 on 2026-03-29 never shows; at +1 it is 01:30Z = 03:30 CEST.
    expect(iso(zonedInstant(local(2026, 3, 29, 2, 30), BERLIN))).toBe('2026-03-29T01:30:00.000Z');
  });

  it('takes the first of a wall time shown twice, west and east of Greenwich alike', () => {
    // NY 01:30 on 2026-11-01 shows at 05:30Z (EDT) and again at 06:30Z (EST): the first.
    expect(iso(zonedInstant(local(2026, 11, 1, 1, 30), NY))).toBe('2026-11-01T05:30:00.000Z');
    // Berlin 02:30 on 2026-10-25 shows at 00:30Z (CEST) and again at 01:30Z (CET): the first.
    expect(iso(zonedInstant(local(2026, 10, 25, 2, 30), BERLIN))).toBe('2026-10-25T00:30:00.000Z');
  });
});

describe('nextInSendWindow', () => {
  const day = { from: '08:00', to: '21:00' };

  it('sends at once when the policy has no window', () => {
    expect(iso(nextInSendWindow(at('2026-12-05T08:00:00Z'), undefined, NY))).toBe('2026-12-05T08:00:00.000Z'); // 03:00 EST
  });

  it('sends at once inside the window; the start is inside, the end is not', () => {
    expect(iso(nextInSendWindow(at('2026-12-05T17:00:00Z'), day, NY))).toBe('2026-12-05T17:00:00.000Z'); // 12:00 EST
    expect(iso(nextInSendWindow(at('2026-12-05T13:00:00Z'), day, NY))).toBe('2026-12-05T13:00:00.000Z'); // 08:00 EST
    // 21:00 EST on the 5th (02:00Z on the 6th) waits for 08:00 EST on the 6th.
    expect(iso(nextInSendWindow(at('2026-12-06T02:00:00Z'), day, NY))).toBe('2026-12-06T13:00:00.000Z');
  });

  it('waits for the opening the same local day when too early', () => {
    // 06:30 EST (11:30Z) → 08:00 EST (13:00Z).
    expect(iso(nextInSendWindow(at('2026-12-05T11:30:00Z'), day, NY))).toBe('2026-12-05T13:00:00.000Z');
  });

  it('waits for the next local day when too late, even when UTC is already on that day', () => {
    // 22:00 EST on the 5th is 03:00Z on the 6th; the window opens 08:00 EST on the 6th = 13:00Z.
    expect(iso(nextInSendWindow(at('2026-12-06T03:00:00Z'), day, NY))).toBe('2026-12-06T13:00:00.000Z');
  });

  it("uses the recipient's zone: one instant is inside in New York and outside in Tokyo", () => {
    const instant = at('2026-12-05T17:00:00Z'); // 12:00 EST; 02:00 JST on the 6th (+9)
    expect(iso(nextInSendWindow(instant, day, NY))).toBe('2026-12-05T17:00:00.000Z');
    // 08:00 JST on the 6th = 23:00Z on the 5th.
    expect(iso(nextInSendWindow(instant, day, 'Asia/Tokyo'))).toBe('2026-12-05T23:00:00.000Z');
  });

  it('opens at 08:00 local time on the day DST begins', () => {
    // 00:30 EST (05:30Z); by 08:00 the clock is on EDT (-4): 12:00Z.
    expect(iso(nextInSendWindow(at('2026-03-08T05:30:00Z'), day, NY))).toBe('2026-03-08T12:00:00.000Z');
  });

  it('handles an overnight window (21:00–08:00)', () => {
    const night = { from: '21:00', to: '08:00' };
    expect(iso(nextInSendWindow(at('2026-12-06T04:00:00Z'), night, NY))).toBe('2026-12-06T04:00:00.000Z'); // 23:00 EST
    expect(iso(nextInSendWindow(at('2026-12-06T12:59:00Z'), night, NY))).toBe('2026-12-06T12:59:00.000Z'); // 07:59 EST
    // 08:00 EST on the 6th has left the window: next opening 21:00 EST on the 6th = 02:00Z on the 7th.
    expect(iso(nextInSendWindow(at('2026-12-06T13:00:00Z'), night, NY))).toBe('2026-12-07T02:00:00.000Z');
    // Noon EST on the 5th → 21:00 EST the same evening = 02:00Z on the 6th.
    expect(iso(nextInSendWindow(at('2026-12-05T17:00:00Z'), night, NY))).toBe('2026-12-06T02:00:00.000Z');
  });

  it('does not lose a day when the window opens in the hour DST skips', () => {
    // The activity retries at the instant this returns; that instant must then be inside.
    const skipped = { from: '02:30', to: '21:00' };
    const first = nextInSendWindow(at('2026-03-08T06:00:00Z'), skipped, NY); // 01:00 EST
    expect(iso(first)).toBe('2026-03-08T07:30:00.000Z'); // 02:30 read at -5 = 03:30 EDT, same day
    expect(iso(nextInSendWindow(first, skipped, NY))).toBe(iso(first));
  });

  it('reads from = to as a window of the whole day, not one that never opens', () => {
    expect(iso(nextInSendWindow(at('2026-12-05T08:00:00Z'), { from: '00:00', to: '00:00' }, NY))).toBe('2026-12-05T08:00:00.000Z');
    expect(iso(nextInSendWindow(at('2026-12-05T10:00:00Z'), { from: '08:00', to: '08:00' }, NY))).toBe('2026-12-05T10:00:00.000Z');
  });
});

describe('computeSchedule', () => {
  it('schedules the standard policy from the due date and the initiation in the account zone', () => {
    // Due Fri 2026-10-30 09:00 EDT; the reminders fall after the 2026-11-01 change, so 09:00 EST = 14:00Z.
    const steps = computeSchedule(standardPolicy, { initiatedAt: at('2026-10-20T15:30:00Z'), dueOn: '2026-10-30' }, NY);
    expect(steps.map((s) => [s.ordinal, s.key, s.scheduledFor])).toEqual([
      [0, 'upcoming_notice', '2026-10-20T15:30:00.000Z'], // P0D from initiated: the initiation itself
      [1, 'first_reminder', '2026-11-02T14:00:00.000Z'],
      [2, 'second_reminder', '2026-11-09T14:00:00.000Z'],
      [3, 'manual_escalation', '2026-11-19T14:00:00.000Z'],
    ]);
    // The policy's own fields travel with each step (the workflow reads template and action here).
    expect(steps[1]).toMatchObject({ action: 'email', template: 'first-reminder', at: 'P3D', from: 'due' });
  });

  it('keeps policy order: a step whose own time is earlier runs right after the one before it', () => {
    const steps: PolicyStep[] = [
      { key: 'pre_due', action: 'email', template: 'upcoming-invoices', at: '-P3D', from: 'due' },
      { key: 'late', action: 'email', template: 'first-reminder', at: 'P3D', from: 'due' },
      { key: 'hello', action: 'email', template: 'upcoming-invoices', at: 'PT5S', from: 'initiated' },
    ];
    // Due 2026-12-10 09:00 EST (14:00Z); initiated 2026-12-01T15:00Z.
    const scheduled = computeSchedule({ steps }, { initiatedAt: at('2026-12-01T15:00:00Z'), dueOn: '2026-12-10' }, NY);
    expect(scheduled.map((s) => s.scheduledFor)).toEqual([
      '2026-12-07T14:00:00.000Z', // -P3D from due
      '2026-12-13T14:00:00.000Z', // P3D from due
      '2026-12-13T14:00:00.000Z', // own time 2026-12-01T15:00:05Z, held back behind "late"
    ]);
  });
});

describe('localDate', () => {
  it('is the date on the wall in the zone, not the UTC date', () => {
    expect(localDate(at('2026-12-06T03:00:00Z'), NY)).toBe('2026-12-05'); // 22:00 EST on the 5th
    expect(localDate(at('2026-12-06T03:00:00Z'), 'Asia/Tokyo')).toBe('2026-12-06'); // 12:00 JST
    expect(localDate(at('2026-03-08T04:59:59Z'), NY)).toBe('2026-03-07'); // 23:59:59 EST, zero-padded
  });
});

describe('parseDateInput', () => {
  it('reads YYYY-MM-DD as the end of that day in the account zone', () => {
    expect(parseDateInput('2026-12-15', NY)).toEqual({ ok: true, at: at('2026-12-16T04:59:59Z') }); // 23:59:59 EST
    expect(parseDateInput('2026-07-15', NY)).toEqual({ ok: true, at: at('2026-07-16T03:59:59Z') }); // 23:59:59 EDT
    expect(parseDateInput('2026-12-15', 'Asia/Tokyo')).toEqual({ ok: true, at: at('2026-12-15T14:59:59Z') }); // +9
    expect(parseDateInput('2028-02-29', 'UTC')).toEqual({ ok: true, at: at('2028-02-29T23:59:59Z') }); // a leap day
  });

  it('refuses a date that is not on the calendar', () => {
    expect(parseDateInput('2026-02-30', NY)).toEqual({ ok: false, reason: '"2026-02-30" is not a real date' });
    expect(parseDateInput('2026-02-29', NY)).toEqual({ ok: false, reason: '"2026-02-29" is not a real date' });
    expect(parseDateInput('2026-13-01', NY)).toEqual({ ok: false, reason: '"2026-13-01" is not a real date' });
  });

  it('reads a date-time with an offset or Z as that instant, whatever the account zone', () => {
    expect(parseDateInput('2026-12-15T10:00:00Z', NY)).toEqual({ ok: true, at: at('2026-12-15T10:00:00Z') });
    expect(parseDateInput('2026-12-15T10:00:00+05:30', NY)).toEqual({ ok: true, at: at('2026-12-15T04:30:00Z') });
    expect(parseDateInput('2026-12-15T10:00-05:00', 'Asia/Tokyo')).toEqual({ ok: true, at: at('2026-12-15T15:00:00Z') });
    expect(parseDateInput('2026-12-15T10:00:00.250Z', NY)).toEqual({ ok: true, at: at('2026-12-15T10:00:00.250Z') });
  });

  it('refuses a date-time on a day that does not exist (JavaScript would roll it into March)', () => {
    expect(parseDateInput('2026-02-30T10:00:00Z', NY)).toEqual({ ok: false, reason: '"2026-02-30T10:00:00Z" is not a real date' });
  });

  it.each(['soon', '2026-12-15T10:00:00', '15/12/2026', '2026-1-5', '', '2026-12-15 10:00Z', '2026-12-15T10:60:00Z'])(
    'refuses %j with the sentence the CLI prints',
    (text) => {
      expect(parseDateInput(text, NY)).toEqual({
        ok: false,
        reason: `"${text}" is not a date (YYYY-MM-DD) or a date-time with an offset (2026-12-15T10:00:00Z)`,
      });
    },
  );
});

describe('isValidTimeZone', () => {
  it.each([NY, BERLIN, 'UTC', 'Asia/Kolkata', 'Etc/GMT+5'])('accepts %s', (zone) => expect(isValidTimeZone(zone)).toBe(true));
  it.each(['Mars/Olympus_Mons', 'New York', 'EST+5'])('refuses %s', (zone) => expect(isValidTimeZone(zone)).toBe(false));
});
