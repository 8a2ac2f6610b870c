// A plan's calendar under a policy, as it would run if initiated now: nothing is started.
import { nextInSendWindow, planSchedule } from '../workflows/domain/calendar';
import { requirePlan, requirePolicy, type DatabaseContext } from './context';
import { choosePolicy, DEFAULT_POLICY, explainChoice, type PolicyChoice } from './segments';

export interface PlanPreview {
  planId: string;
  policy: string;
  /** How the policy was chosen: named, picked by a segmentation rule (with the conditions that held), or the default with no rules set. */
  choice: PolicyChoice;
  /** The choice in one sentence. */
  reason: string;
  timeZone: string;
  /** The `due` anchor: the earliest open invoice's due date (today when nothing is open). */
  dueOn: string;
  currency: string;
  locale: string;
  outstandingMinor: number;
  steps: Array<{
    key: string;
    action: string;
    template: string | null;
    anchor: string;
    offset: string;
    /** When the step falls due (anchor + offset). */
    scheduledFor: string;
    /** When it would run: an email waits for the policy's send window. */
    sendAt: string;
  }>;
}

export async function previewPlan({ db }: DatabaseContext, input: { planId: string; policyName?: string; now?: Date }): Promise<PlanPreview> {
  const [plan, choice] = await Promise.all([requirePlan(db, input.planId), choosePolicy({ db }, input)]);
  const policy = await requirePolicy(db, choice?.policy ?? DEFAULT_POLICY);
  const now = input.now ?? new Date();
  const schedule = planSchedule(policy, plan, now);
  const steps = schedule.steps.map((s) => {
    const due = new Date(s.scheduledFor);
    const sendAt = s.action === 'email' ? nextInSendWindow(due, policy.sendWindow, plan.timeZone) : due;
    return { key: s.key, action: s.action, template: s.template ?? null, anchor: s.from, offset: s.at, scheduledFor: s.scheduledFor, sendAt: sendAt.toISOString() };
  });
  return {
    planId: plan.planId,
    policy: policy.name,
    choice: choice!,
    reason: explainChoice(choice!, plan),
    timeZone: plan.timeZone,
    dueOn: schedule.dueOn,
    currency: plan.currency,
    locale: plan.locale,
    outstandingMinor: plan.outstandingMinor,
    steps,
  };
}
