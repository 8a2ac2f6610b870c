// The yardstick: a workflow of the same shape as a dunning journey (the same timers, the same
// local activities for db writes and regular activities for emails, a payment signal at the
// end) whose activities do nothing. Bundled on its own by bench/run.ts; never part of the
// engine's workflow bundle.
import { condition, defineSignal, proxyActivities, proxyLocalActivities, setHandler, sleep } from '@temporalio/workflow';

export interface BareActivities {
  noop(input: { n: number }): Promise<number>;
}

const { noop: send } = proxyActivities<BareActivities>({ startToCloseTimeout: '30 seconds' });
const { noop: write } = proxyLocalActivities<BareActivities>({ startToCloseTimeout: '30 seconds' });

export const barePaymentSignal = defineSignal<[{ amountMinor: number }]>('paymentReceived');

export interface BareJourney {
  /** Each step's time after the start, and whether it sends an email (else it opens a task). */
  steps: Array<{ offsetMs: number; email: boolean }>;
}

/** When the workflow first ran, each step's lag behind its scheduled time, and when the last step ended. */
export async function bareJourneyWorkflow(input: BareJourney): Promise<{ startedAt: number; lags: number[]; lastStepAt: number }> {
  let paid = false;
  setHandler(barePaymentSignal, () => {
    paid = true;
  });
  const start = Date.now();
  await write({ n: 0 }); // begin
  await write({ n: 0 }); // first sync
  const lags: number[] = [];
  let lastStepAt = start;
  for (const step of input.steps) {
    const wait = start + step.offsetMs - Date.now();
    if (wait > 0) {
      await write({ n: 1 }); // "waiting" sync
      await sleep(wait);
    }
    if (step.email) await send({ n: 2 });
    await write({ n: 3 }); // sync
    lags.push(Date.now() - (start + step.offsetMs));
    lastStepAt = Date.now();
  }
  await condition(() => paid);
  await write({ n: 4 }); // record payment
  await write({ n: 5 }); // sync
  await send({ n: 6 }); // receipt
  await write({ n: 7 }); // sync
  return { startedAt: start, lags, lastStepAt };
}
