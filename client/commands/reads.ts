// Commands anyone reads plans with (billing, reps, ops): preview, status, list. They read the
// database only, so they neither load nor wait for the Temporal client.
import { planStatuses, type PlanStatus } from '../../workflows/domain/statuses';
import { previewPlan } from '../preview';
import { listPlans, planStatus, type PlanStatusView } from '../status';
import { args, CliError, optional, type Command } from './args';
import { money, table, when } from './output';

const preview: Command = async (argv, out, session) => {
  const { values, positionals } = args(argv, { policy: { type: 'string' } }, ['<planId>']);
  const p = await previewPlan(await session.database(), { planId: positionals[0]!, policyName: optional(values.policy) });
  out.print(
    [
      `Preview of plan ${p.planId} under policy "${p.policy}" (if initiated now; earliest due ${p.dueOn}, ${p.timeZone}; ${money(p.outstandingMinor, p)} owed):`,
      table([['STEP', 'ACTION', 'FROM', 'AT', 'RUNS (UTC)'], ...p.steps.map((s) => [s.key, s.action, s.anchor, s.offset, when(s.sendAt)])]),
    ].join('\n'),
    p,
  );
};

function describeStatus(s: PlanStatusView): string {
  return [
    `Plan ${s.planId} (${s.accountName}, account ${s.accountId}) — ${s.status}, ${money(s.outstandingMinor, s)} owed`,
    `Workflow ${s.workflowId}${s.policy ? `, policy ${s.policy}` : ''}; next action ${when(s.nextActionAt)}`,
    '',
    table([
      ['STEP', 'ACTION', 'STATUS', 'SCHEDULED', 'COMPLETED', 'REASON'],
      ...s.steps.map((st) => [st.key, st.action, st.status, when(st.scheduledFor), when(st.completedAt), st.reason ?? '']),
    ]),
    ...(s.tasks.length ? ['', 'Tasks:', ...s.tasks.map((t) => `  ${t.id}  ${t.kind}  ${t.status}${t.outcome ? ` (${t.outcome})` : ''}  ${t.reason}`)] : []),
    ...(s.promises.length
      ? [
          '',
          'Promises:',
          ...s.promises.flatMap((p) => [
            `  ${p.id}  ${money(p.amountMinor, s)} by ${when(p.dueOn)}  ${p.status} (paid ${money(p.paidMinor, s)})`,
            ...(p.schedule.length > 1 ? p.schedule.map((i) => `    ${i.seq}. ${money(i.amountMinor, s)} by ${when(i.dueOn)}  ${i.status}`) : []),
          ]),
        ]
      : []),
    '',
    'Timeline:',
    ...s.timeline.map((e) => `  ${when(e.at)}  ${e.kind.padEnd(14)} ${e.summary}`),
  ].join('\n');
}

const status: Command = async (argv, out, session) => {
  const { positionals } = args(argv, {}, ['<planId>']);
  const view = await planStatus(await session.database(), { planId: positionals[0]! });
  out.print(describeStatus(view), view);
};

const isPlanStatus = (text: string): text is PlanStatus => (planStatuses as readonly string[]).includes(text);

const list: Command = async (argv, out, session) => {
  const { values } = args(argv, { status: { type: 'string' } }, []);
  const wanted = optional(values.status);
  if (wanted !== undefined && !isPlanStatus(wanted)) throw new CliError(`--status must be one of ${planStatuses.join(', ')}.`);
  const rows = await listPlans(await session.database(), { status: wanted });
  out.print(
    rows.length === 0
      ? 'No plans.'
      : table([['PLAN', 'ACCOUNT', 'STATUS', 'NEXT STEP', 'NEXT ACTION'], ...rows.map((r) => [r.planId, r.accountName, r.status, r.nextStep ?? '—', when(r.nextActionAt)])]),
    rows,
  );
};

export const readCommands: Record<string, Command> = { preview, status, list };
