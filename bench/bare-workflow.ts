// The yardstick: a workflow of the same shape as a dunning journey (the same timers, the same
// number of activities per step, a payment signal at the end) whose activities do nothing.
// Bundled on its own by bench/run.ts; never part of the engine's workflow bundle.
import { condition, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';

export interface BareActivities {
  noop(input: { n: number }): Promise<number>;
}

const { noop } = proxyActivities<BareActivities>({ startToCloseTimeout: '30 seconds' });

export const barePaymentSignal = defineSignal<[{ amountMinor: number }]>('paymentReceived');

/** Steps at `offsetsMs` after start; returns each step's lag behind its scheduled time. */
export async function bareJourneyWorkflow(input: { offsetsMs: number[] }): Promise<number[]> {
  let paid = false;
  setHandler(barePaymentSignal, () => {
    paid = true;
  });
  const start = Date.now();
  await noop({ n: 0 }); // begin
  await noop({ n: 0 }); // first sync
  const lags: number[] = [];
  for (const offset of input.offsetsMs) {
    await noop({ n: 1 }); // "waiting" sync
    const wait = start + offset - Date.now();
    if (wait > 0) await sleep(wait);
    await noop({ n: 2 }); // the step's send or task
    await noop({ n: 3 }); // sync
    lags.push(Date.now() - (start + offset));
  }
  await condition(() => paid);
  await noop({ n: 4 }); // record payment
  await noop({ n: 5 }); // sync
  await noop({ n: 6 }); // receipt
  await noop({ n: 7 }); // sync
  return lags;
}
