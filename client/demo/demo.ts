// `dunning demo`: something moving in the Temporal UI within a minute of `npm start`, before a
// newcomer has written a CSV. The sample portfolio (portfolio.csv: ten accounts in nine
// currencies and ten time zones and locales, one contact opted out) is imported through the
// same code as any file, with its dates written relative to today, and every plan is initiated
// under the seconds-long `demo` policy (policy.json). Running it again changes nothing: the
// import is idempotent and initiating a running plan finds its journey.
import { readFileSync } from 'node:fs';
import { parsePolicy } from '../../db/policies';
import type { DunningContext } from '../context';
import { initiateDunning } from '../dunning';
import { importCsv, type ImportResult } from '../import';
import { listPolicies, setPolicy, type PolicyVersion } from '../policies';

const portfolioTemplate = new URL('./portfolio.csv', import.meta.url);
const demoPolicy = new URL('./policy.json', import.meta.url);

export interface DemoResult {
  /** The day the portfolio's dates are relative to (UTC). */
  today: string;
  /** saved: false when the stored policy was already this one (its version is unchanged). */
  policy: PolicyVersion & { saved: boolean };
  portfolio: ImportResult;
  plans: Array<{ planId: string; accountId: string; workflowId: string; alreadyRunning: boolean; policy: string }>;
}

const dayMs = 86_400_000;

/**
 * The portfolio as an import file: each date field is written `today`, `today-12` or `today+5`
 * in the template (days from today), so the journey reads the same whichever day it runs.
 */
export function demoPortfolioCsv(today: Date): string {
  return readFileSync(portfolioTemplate, 'utf8').replace(/(?<=^|,)today(?:([+-]\d+))?(?=,|\r?$)/gm, (_, days?: string) =>
    new Date(today.getTime() + Number(days ?? 0) * dayMs).toISOString().slice(0, 10),
  );
}

export async function startDemo(ctx: DunningContext, input: { now?: Date } = {}): Promise<DemoResult> {
  const now = input.now ?? new Date();
  const wanted = parsePolicy(JSON.parse(readFileSync(demoPolicy, 'utf8')));
  // Saved only when it differs from the stored one, so a second run leaves its version alone.
  const stored = (await listPolicies(ctx)).find((p) => p.name === wanted.name);
  const policy =
    stored && JSON.stringify(stored.policy) === JSON.stringify(wanted)
      ? { ...stored, saved: false }
      : { ...(await setPolicy(ctx, { policy: wanted })), saved: true };

  const portfolio = await importCsv(ctx, { source: demoPortfolioCsv(now) });
  const plans = await Promise.all(
    portfolio.plans.map(async ({ planId, accountId }) => {
      const started = await initiateDunning(ctx, { planId, policyName: policy.name });
      return { planId, accountId, workflowId: started.workflowId, alreadyRunning: started.alreadyRunning, policy: started.policy };
    }),
  );
  return { today: now.toISOString().slice(0, 10), policy, portfolio, plans };
}
