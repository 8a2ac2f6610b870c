// Commands anyone reads plans with (billing, reps, ops): preview, status, list. They read the
// database only, so they neither load nor wait for the Temporal client.
import { planStatuses, taskKinds, type PlanStatus, type TaskKind } from '../../workflows/domain/statuses';
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
      p.reason,
    ].join('\n'),
    p,
  );
};

function describeStatus(s: PlanStatusView): string {
  return [
    `Plan ${s.planId} (${s.accountName}, account ${s.accountId}) — ${s.status}, ${money(s.outstandingMinor, s)} owed`,
    `Workflow ${s.workflowId}${s.policy ? `, policy ${s.policy}` : ''}${s.pickedBy ? ` (picked by segmentation rule "${s.pickedBy.rule}", rules version ${s.pickedBy.rulesVersion})` : ''}; next action ${when(s.nextActionAt)}`,
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
const isTaskKind = (text: string): text is TaskKind => (taskKinds as readonly string[]).includes(text);

const list: Command = async (argv, out, session) => {
  const { values } = args(
    argv,
    { status: { type: 'string' }, account: { type: 'string' }, task: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } },
    [],
  );
  const wanted = optional(values.status);
  if (wanted !== undefined && !isPlanStatus(wanted)) throw new CliError(`--status must be one of ${planStatuses.join(', ')}.`);
  const task = optional(values.task);
  if (task !== undefined && !isTaskKind(task)) throw new CliError(`--task must be one of ${taskKinds.join(', ')}.`);
  const limitText = optional(values.limit);
  if (limitText !== undefined && !/^\d+$/.test(limitText)) throw new CliError('--limit must be a whole number from 1 to 200.');
  const page = await listPlans(await session.database(), {
    status: wanted,
    accountId: optional(values.account),
    taskKind: task,
    limit: limitText === undefined ? undefined : Number(limitText),
    cursor: optional(values.cursor),
  });
  const rows = page.data;
  out.print(
    (rows.length === 0
      ? 'No plans.'
      : table([
          ['PLAN', 'ACCOUNT', 'STATUS', 'OWED', 'NEXT STEP', 'NEXT ACTION'],
          ...rows.map((r) => [r.planId, r.accountName, r.status, money(r.outstandingMinor, r), r.nextStep ?? '—', when(r.nextActionAt)]),
        ])) + (page.nextCursor ? `\n\nMore: dunning list --cursor ${page.nextCursor}` : ''),
    page,
  );
};

export const readCommands: Record<string, Command> = { preview, status, list };
