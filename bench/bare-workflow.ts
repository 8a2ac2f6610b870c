// The yardstick: a workflow of the same shape as a dunning journey (the same timers, the same
// local activities for db writes and regular activities for emails, a payment signal at the
// end) whose activities do nothing. Bundled on its own by bench/run.ts; never part of the
// engine's workflow bundle. With `attributes`, it also upserts the search attributes ops filter
// on where the journey does, so a run tells Temporal's cost of them from the engine's own.
import { type SearchAttributeUpdatePair } from '@temporalio/common';
import { condition, defineSignal, proxyActivities, proxyLocalActivities, setHandler, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import { AccountId, DunningStatus, DunningStep, NextActionAt, OutstandingAmount } from '../workflows/search-attributes';

export interface BareActivities {
  noop(input: { n: number }): Promise<number>;
}

const { noop: send } = proxyActivities<BareActivities>({ startToCloseTimeout: '30 seconds' });
const { noop: write } = proxyLocalActivities<BareActivities>({ startToCloseTimeout: '30 seconds' });

export const barePaymentSignal = defineSignal<[{ amountMinor: number }]>('paymentReceived');
/** The `n` of the write after a run's last step: its worker learns from it that the run's steps are done. */
export const lastStepWrite = 8;

export interface BareJourney {
  /** Each step's time after the start, and whether it sends an email (else it opens a task). */
  steps: Array<{ key: string; offsetMs: number; email: boolean }>;
  /**
   * Upsert the journey's search attributes as it does: all five after its first write, the
   * next step and its time after each step, the status and amount once paid. The client starts
   * such a run with the account, status and amount, as initiation does.
   */
  attributes?: { accountId: string; outstandingAmount: number };
  /**
   * Ends after its last step instead of waiting for its payment: for a run compared with
   * journeys nobody pays, so its payment, receipt and sync are not work the journeys do not do.
   */
  unpaid?: boolean;
}

/** When the workflow first ran, each step's lag behind its scheduled time, and when the last step ended. */
export async function bareJourneyWorkflow(input: BareJourney): Promise<{ startedAt: number; lags: number[]; lastStepAt: number }> {
  let paid = false;
  setHandler(barePaymentSignal, () => {
    paid = true;
  });
  const start = Date.now();
  const upsert = (pairs: SearchAttributeUpdatePair[]) => input.attributes && upsertSearchAttributes(pairs);
  /** The step after the i-th and its time, as the journey shows what it does next. */
  const next = (i: number): SearchAttributeUpdatePair[] => {
    const step = input.steps[i];
    return [
      { key: DunningStep, value: step?.key ?? null },
      { key: NextActionAt, value: step ? new Date(start + step.offsetMs) : null },
    ];
  };
  await write({ n: 0 }); // begin
  await write({ n: 0 }); // first sync
  upsert([
    { key: DunningStatus, value: 'in_progress' },
    { key: AccountId, value: input.attributes?.accountId ?? '' },
    { key: OutstandingAmount, value: input.attributes?.outstandingAmount ?? 0 },
    ...next(0),
  ]);
  const lags: number[] = [];
  let lastStepAt = start;
  for (const [i, step] of input.steps.entries()) {
    const wait = start + step.offsetMs - Date.now();
    if (wait > 0) {
      await write({ n: 1 }); // "waiting" sync
      await sleep(wait);
    }
    if (step.email) await send({ n: 2 });
    await write({ n: i === input.steps.length - 1 ? lastStepWrite : 3 }); // sync
    upsert(next(i + 1));
    lags.push(Date.now() - (start + step.offsetMs));
    lastStepAt = Date.now();
  }
  if (input.unpaid) return { startedAt: start, lags, lastStepAt };
  await condition(() => paid);
  await write({ n: 4 }); // record payment
  await write({ n: 5 }); // sync
  upsert([
    { key: DunningStatus, value: 'resolved' },
    { key: OutstandingAmount, value: 0 },
  ]);
  await send({ n: 6 }); // receipt
  await write({ n: 7 }); // sync
  return { startedAt: start, lags, lastStepAt };
}
