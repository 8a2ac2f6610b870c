// Policy durations and clock times without a server. A policy with a duration the engine reads
// differently from its author runs every reminder on the wrong day.
import { describe, expect, it } from 'vitest';
import { durationMs, parseClock, parseDuration } from '../../workflows/domain/duration';

const HOUR = 3_600_000;

describe('parseDuration', () => {
  it.each([
    ['P3D', { sign: 1, days: 3, ms: 0 }],
    ['P0D', { sign: 1, days: 0, ms: 0 }],
    ['P2W', { sign: 1, days: 14, ms: 0 }],
    ['P1W2D', { sign: 1, days: 9, ms: 0 }],
    ['-P3D', { sign: -1, days: 3, ms: 0 }], // a pre-due notice
    ['PT5S', { sign: 1, days: 0, ms: 5_000 }],
    ['PT1H30M', { sign: 1, days: 0, ms: 1.5 * HOUR }],
    ['PT1M', { sign: 1, days: 0, ms: 60_000 }], // M after T is minutes, not months
    ['P1DT2H', { sign: 1, days: 1, ms: 2 * HOUR }], // days kept apart for the local calendar
    ['-PT30M', { sign: -1, days: 0, ms: 1_800_000 }],
    ['PT0.5S', { sign: 1, days: 0, ms: 500 }],
    ['PT1.25S', { sign: 1, days: 0, ms: 1_250 }],
  ])('reads %s', (text, parsed) => expect(parseDuration(text)).toEqual(parsed));

  it.each([
    'P', // nothing in it
    '-P',
    'PT', // a time part with nothing in it
    'P1DT',
    'P1M', // months: "a month after Jan 31" has no single answer
    'P1Y',
    'P1Y2M3D',
    'P1.5D', // fractions only on seconds
    'PT1.5H',
    'P-3D', // the sign goes in front
    '+P3D',
    '3D',
    'p3d',
    ' P3D',
    '',
    'soon',
  ])('refuses %j', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('durationMs', () => {
  it('counts days as 24 h and keeps the sign', () => {
    expect(durationMs('P1D')).toBe(24 * HOUR);
    expect(durationMs('P1W')).toBe(7 * 24 * HOUR);
    expect(durationMs('P2DT3H')).toBe(51 * HOUR);
    expect(durationMs('-PT5S')).toBe(-5_000);
    expect(durationMs('-P1DT1H')).toBe(-25 * HOUR);
  });

  it('refuses what parseDuration refuses, naming the text', () => {
    expect(() => durationMs('P1M')).toThrow('"P1M" is not an ISO-8601 duration like P3D or PT5S.');
  });
});

describe('parseClock', () => {
  it.each([
    ['00:00', 0],
    ['08:00', 480],
    ['09:30', 570],
    ['21:00', 1_260],
    ['23:59', 1_439],
  ])('%s is %i minutes after midnight', (text, minutes) => expect(parseClock(text)).toBe(minutes));

  it.each(['24:00', '8:00', '08:60', '08:00:00', '0800', '8am', ''])('refuses %j', (text) => expect(parseClock(text)).toBeUndefined());
});
