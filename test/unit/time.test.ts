// The minute-and-UTC format of the engine's own messages (timeline, Temporal UI summaries).
import { describe, expect, it } from 'vitest';
import { iso, utcMinute } from '../../workflows/domain/time';

describe('iso', () => {
  it('is the ISO instant of a timestamp', () => {
    expect(iso(Date.UTC(2026, 11, 5, 10, 0, 0, 250))).toBe('2026-12-05T10:00:00.250Z');
  });
});

describe('utcMinute', () => {
  it('shows an ISO instant to the minute, truncated rather than rounded', () => {
    expect(utcMinute('2026-12-05T10:00:59.999Z')).toBe('2026-12-05 10:00 UTC');
  });

  it('shows a timestamp the same way', () => {
    expect(utcMinute(Date.UTC(2026, 11, 5, 23, 7))).toBe('2026-12-05 23:07 UTC');
  });
});
