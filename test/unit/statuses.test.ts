// Which step the journey runs next and which plans are finished: read by the workflow, the
// status view and the worklist, so a wrong answer shows a closed plan as open or skips a step.
import { describe, expect, it } from 'vitest';
import { isClosedStatus, nextOpenStep, planStatuses } from '../../workflows/domain/statuses';

describe('nextOpenStep', () => {
  it('is the first pending or waiting step in policy order', () => {
    const steps = [
      { key: 'a', status: 'completed' },
      { key: 'b', status: 'skipped' },
      { key: 'c', status: 'in_progress' }, // running now, not ahead
      { key: 'd', status: 'pending' },
      { key: 'e', status: 'waiting' },
    ];
    expect(nextOpenStep(steps)).toBe(steps[3]);
  });

  it('takes order over status: a waiting step after a pending one does not jump it', () => {
    const steps = [
      { key: 'a', status: 'waiting' },
      { key: 'b', status: 'pending' },
    ];
    expect(nextOpenStep(steps)?.key).toBe('a');
  });

  it('is undefined when every step has finished', () => {
    expect(nextOpenStep([{ status: 'completed' }, { status: 'failed' }, { status: 'cancelled' }, { status: 'skipped' }])).toBeUndefined();
    expect(nextOpenStep([])).toBeUndefined();
  });
});

describe('isClosedStatus', () => {
  it('closes resolved, cancelled, written-off plans and those an end action closed only', () => {
    const closed = planStatuses.filter(isClosedStatus);
    expect(closed).toEqual(['resolved', 'cancelled', 'written_off', 'sent_to_agency', 'service_cancelled']);
  });
});
