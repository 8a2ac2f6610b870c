// The built-in standard policy must pass the same validation as a policy a user sets; else
// seeding it, or a plan started under it, would be refused at the edge.
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../db/policies';
import { standardPolicy } from '../../workflows/domain/policy';

describe('standardPolicy', () => {
  it('is a valid policy, unchanged by validation (no defaults fill in anything missing)', () => {
    expect(parsePolicy(structuredClone(standardPolicy))).toEqual(standardPolicy);
  });

  it('runs the milestones of the design in order: notice, two reminders, escalation', () => {
    expect(standardPolicy.steps.map((s) => [s.key, s.action, s.at, s.from])).toEqual([
      ['upcoming_notice', 'email', 'P0D', 'initiated'],
      ['first_reminder', 'email', 'P3D', 'due'],
      ['second_reminder', 'email', 'P10D', 'due'],
      ['manual_escalation', 'task', 'P20D', 'due'],
    ]);
  });
});
