// What the journey counts, through the SDK's workflow metric meter: it emits nothing while a
// workflow replays, and it is no command, so counting changes no history (replay-safe).
import { metricMeter } from '@temporalio/workflow';
import { metricHelp, metricNames, promiseOutcomeOf } from './domain/metrics';
import type { StepState, TimelineEvent } from './messages';

// Made when counting, not when the module loads: client code imports workflow modules outside any
// workflow context (for their types and definitions), where the meter refuses to be touched.
const counter = (name: keyof typeof metricNames) => metricMeter.createCounter(metricNames[name], undefined, metricHelp[name]);

/** A step the journey has just completed (an email sent, a task created). */
export function countStepCompleted(step: StepState): void {
  if (step.status === 'completed') counter('steps').add(1, { step: step.key });
}

/**
 * Counts promises and payments from the timeline entries about to be written: the same facts the
 * plan's timeline shows, counted once each, as each entry is written once.
 */
export function countTimeline(events: readonly TimelineEvent[]): void {
  for (const event of events) {
    const outcome = promiseOutcomeOf(event.kind);
    if (outcome) counter('promises').add(1, { outcome });
    else if (event.kind === 'payment') counter('payments').add(1);
  }
}
