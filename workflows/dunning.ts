// The dunning journey: one workflow per collection plan, an event loop over the policy's steps.
// One writer: signal and update handlers only change in-memory state and queue work; the main
// loop performs every side effect in order, so the db never sees two writes race.
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  cancelUpdate,
  closedPlanStatuses,
  completeTaskUpdate,
  escalateUpdate,
  paymentReceivedSignal,
  pauseUpdate,
  resumeUpdate,
  stateQuery,
  taskOutcomeEffects,
  type PaymentReceived,
  type PlanState,
  type PlanStatus,
  type StepState,
  type TaskState,
} from './messages';
import type { DunningPolicy } from './policy';
import { AccountId, DunningStatus, DunningStep, NextActionAt, OutstandingAmount } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;

// Database activities: short, retried until the db is back (a restart of PostgreSQL must not
// lose a step). Mail has its own group: a provider outage retries with backoff for longer.
const db = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['UnknownPlan', 'InvalidPlan'] },
});
const mail = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: ['MailRejected'] },
});

export interface DunningWorkflowInput {
  planId: string;
  /** Snapshot of the policy at initiation: editing the policy never changes this journey. */
  policy: DunningPolicy;
  /** State carried across continue-as-new. */
  carried?: { state: PlanState; seenPaymentIds: string[]; statusBeforePause?: PlanStatus; timelineSeq: number };
}

type Work =
  | { kind: 'payment'; payment: PaymentReceived }
  | { kind: 'escalate'; taskId: string; reason: string }
  | { kind: 'pause'; reason: string }
  | { kind: 'resume' }
  | { kind: 'completeTask'; taskId: string; outcome: string }
  | { kind: 'cancel'; reason: string };

const iso = (ms: number) => new Date(ms).toISOString();

export async function dunningWorkflow(input: DunningWorkflowInput): Promise<PlanState> {
  const { planId, policy } = input;
  const inbox: Work[] = [];
  const seenPaymentIds = new Set(input.carried?.seenPaymentIds ?? []);
  let statusBeforePause = input.carried?.statusBeforePause;
  let timelineSeq = input.carried?.timelineSeq ?? 0;
  let events: Array<{ key: string; seq: number; kind: string; summary: string; at: string }> = [];
  /** Appends to the timeline; `key` makes the db write idempotent, `seq` keeps the order. */
  const record = (kind: string, summary: string, key?: string) => {
    const seq = ++timelineSeq;
    events.push({ key: key ?? `${kind}:${seq}`, seq, kind, summary, at: iso(Date.now()) });
  };

  let state: PlanState;
  let sendWindow = policy.sendWindow;
  if (input.carried) {
    state = input.carried.state;
  } else {
    const begun = await db.beginPlan({ planId, policy, initiatedAt: iso(Date.now()) });
    state = {
      planId,
      accountId: begun.accountId,
      status: 'in_progress',
      currency: begun.currency,
      outstandingMinor: begun.outstandingMinor,
      steps: begun.steps.map((s) => ({
        key: s.key,
        ordinal: s.ordinal,
        action: s.action,
        template: s.template,
        status: 'pending',
        scheduledFor: s.scheduledFor,
      })),
      tasks: [],
      promises: [],
    };
    record('initiated', `Dunning initiated under policy "${policy.name}"; ${begun.owedDisplay} owed`, 'initiated');
    if (begun.outstandingMinor <= 0) close('resolved', 'nothing owed at initiation');
  }

  // --- messages in -------------------------------------------------------------------------
  const isClosed = () => closedPlanStatuses.includes(state.status);
  const refuseIfClosed = () => {
    if (isClosed()) throw ApplicationFailure.create({ type: 'PlanClosed', message: `The plan is already ${state.status}.` });
  };
  const requireText = (field: string, value: unknown) => {
    if (typeof value !== 'string' || value.trim() === '') {
      throw ApplicationFailure.create({ type: 'InvalidArgument', message: `${field} is required.` });
    }
  };
  /** Lets an update return once the main loop has carried out its work. */
  let processed = 0;
  const enqueue = async (work: Work) => {
    inbox.push(work);
    const ticket = processed + inbox.length;
    await condition(() => processed >= ticket);
  };

  setHandler(stateQuery, () => state, { description: 'The orchestration plan, owed amount, promises, tasks, next action.' });
  setHandler(
    paymentReceivedSignal,
    (payment) => {
      // Idempotent by payment id: a repeat delivery from the billing system changes nothing.
      if (seenPaymentIds.has(payment.paymentId)) return;
      seenPaymentIds.add(payment.paymentId);
      inbox.push({ kind: 'payment', payment });
    },
    { description: 'Billing reports a payment (idempotent by paymentId).' },
  );
  setHandler(
    escalateUpdate,
    async ({ reason }) => {
      const taskId = `${planId}:rep_escalation:${state.tasks.length + inbox.length + 1}`;
      await enqueue({ kind: 'escalate', taskId, reason });
      return { taskId };
    },
    {
      validator: ({ reason }) => {
        refuseIfClosed();
        requireText('reason', reason);
      },
      description: 'A rep escalates now: creates an escalation task.',
    },
  );
  setHandler(
    pauseUpdate,
    async ({ reason }) => {
      await enqueue({ kind: 'pause', reason });
      return state;
    },
    {
      validator: ({ reason }) => {
        refuseIfClosed();
        requireText('reason', reason);
        if (state.paused) throw ApplicationFailure.create({ type: 'AlreadyPaused', message: `The plan is already paused (${state.paused.reason}).` });
      },
      description: 'Pause (e.g. dispute): timers stop, nothing is sent.',
    },
  );
  setHandler(
    resumeUpdate,
    async (_input) => {
      await enqueue({ kind: 'resume' });
      return state;
    },
    {
      validator: (_input) => {
        refuseIfClosed();
        if (!state.paused) throw ApplicationFailure.create({ type: 'NotPaused', message: 'The plan is not paused.' });
      },
      description: 'Resume a paused plan: steps that fell due meanwhile run now, in order.',
    },
  );
  setHandler(
    completeTaskUpdate,
    async (task) => {
      await enqueue({ kind: 'completeTask', ...task });
      return state;
    },
    {
      validator: ({ taskId, outcome }) => {
        refuseIfClosed();
        requireText('outcome', outcome);
        const task = state.tasks.find((t) => t.id === taskId);
        if (!task) throw ApplicationFailure.create({ type: 'UnknownTask', message: `The plan has no task "${taskId}".` });
        if (task.status !== 'open') throw ApplicationFailure.create({ type: 'TaskClosed', message: `Task "${taskId}" is already ${task.status}.` });
      },
      description: 'Close a rep task with an outcome (write_off, dispute, or free text).',
    },
  );
  setHandler(
    cancelUpdate,
    async (cancel) => {
      await enqueue({ kind: 'cancel', ...cancel });
      return state;
    },
    {
      validator: ({ reason }) => {
        refuseIfClosed();
        requireText('reason', reason);
      },
      description: 'End the journey cleanly: remaining steps cancelled.',
    },
  );

  // --- state changes -----------------------------------------------------------------------
  function setStep(step: StepState, status: StepState['status'], reason?: string) {
    step.status = status;
    step.reason = reason;
    if (status === 'completed' || status === 'skipped' || status === 'cancelled' || status === 'failed') {
      step.completedAt = iso(Date.now());
    }
  }

  function close(status: PlanStatus, reason: string) {
    for (const step of state.steps) {
      if (step.status === 'pending' || step.status === 'waiting') {
        if (status === 'resolved') setStep(step, 'skipped', 'nothing owed');
        else setStep(step, 'cancelled', reason);
      }
    }
    for (const task of state.tasks) if (task.status === 'open') Object.assign(task, { status: 'cancelled', outcome: `plan ${status}` });
    state.status = status;
    state.closedReason = reason;
    state.paused = undefined;
    record(status, `Plan ${status.replace('_', ' ')}: ${reason}`, status);
  }

  function openTask(task: Omit<TaskState, 'status'>) {
    if (state.tasks.some((t) => t.id === task.id)) return;
    state.tasks.push({ ...task, status: 'open' }); // written by the next sync()
    record('task_created', `Task ${task.id} (${task.kind}): ${task.reason}`, `task:${task.id}`);
  }

  function escalate(kind: TaskState['kind'], taskId: string, reason: string) {
    openTask({ id: taskId, kind, reason });
    if (!state.paused && !isClosed()) state.status = 'escalated';
    else if (state.paused) statusBeforePause = 'escalated';
  }

  /** Writes the state (plan, steps, new timeline events) in one activity, and tells ops. */
  async function sync() {
    const next = state.steps.find((s) => s.status === 'pending' || s.status === 'waiting');
    state.nextActionAt = isClosed() || state.paused || !next ? undefined : (next.notBefore ?? next.scheduledFor);
    const batch = events;
    events = [];
    await db.syncPlan({
      planId,
      status: state.status,
      outstandingMinor: state.outstandingMinor,
      steps: state.steps,
      tasks: state.tasks,
      events: batch,
    });
    upsertSearchAttributes([
      { key: DunningStatus, value: state.status },
      { key: DunningStep, value: next?.key ?? null },
      { key: AccountId, value: state.accountId },
      { key: OutstandingAmount, value: state.outstandingMinor / 100 },
      { key: NextActionAt, value: state.nextActionAt ? new Date(state.nextActionAt) : null },
    ]);
    setCurrentDetails(describe(state));
  }

  async function handle(work: Work) {
    switch (work.kind) {
      case 'payment': {
        const { payment } = work;
        const applied = await db.recordPayment.executeWithOptions({ summary: `record payment ${payment.paymentId}` }, [
          { planId, ...payment, receivedAt: payment.receivedAt ?? iso(Date.now()) },
        ]);
        state.outstandingMinor = applied.outstandingMinor;
        if (applied.applied) {
          record('payment', `Payment ${payment.paymentId} of ${applied.amountDisplay} received; ${applied.owedDisplay} still owed`, `payment:${payment.paymentId}`);
        }
        if (applied.outstandingMinor <= 0 && !isClosed()) close('resolved', 'paid in full');
        return;
      }
      case 'escalate':
        escalate('rep_escalation', work.taskId, work.reason);
        record('escalated', `Escalated by a rep: ${work.reason}`);
        return;
      case 'pause':
        statusBeforePause = state.status;
        state.paused = { reason: work.reason, since: iso(Date.now()) };
        state.status = 'on_hold';
        record('paused', `Paused: ${work.reason}`);
        return;
      case 'resume':
        state.paused = undefined;
        state.status = statusBeforePause ?? 'in_progress';
        statusBeforePause = undefined;
        record('resumed', 'Resumed');
        return;
      case 'completeTask': {
        const task = state.tasks.find((t) => t.id === work.taskId);
        if (!task || task.status !== 'open') return;
        task.status = 'done';
        task.outcome = work.outcome;
        record('task_closed', `Task ${task.id} done: ${work.outcome}`, `task-closed:${task.id}`);
        if (work.outcome === 'write_off') close('written_off', `written off by rep (task ${task.id})`);
        else if (work.outcome === 'dispute' && !state.paused) {
          statusBeforePause = state.status;
          state.paused = { reason: 'dispute', since: iso(Date.now()) };
          state.status = 'on_hold';
          record('paused', `Paused: dispute (task ${task.id})`);
        }
        return;
      }
      case 'cancel':
        close('cancelled', work.reason);
        return;
    }
  }

  async function runStep(step: StepState) {
    setStep(step, 'in_progress');
    if (step.action === 'task') {
      escalate('manual_escalation', `${planId}:${step.key}`, `Step "${step.key}": call the customer`);
      setStep(step, 'completed', 'escalation task created');
      record('step', `Step ${step.key}: escalation task created`, `step:${step.key}`);
      return;
    }
    let sent: Awaited<ReturnType<typeof mail.sendStepEmail>>;
    try {
      sent = await mail.sendStepEmail.executeWithOptions({ summary: `${humanize(step.key)} email` }, [
        { planId, stepKey: step.key, template: step.template ?? step.key, sendWindow, at: iso(Date.now()) },
      ]);
    } catch (err) {
      // A message the provider refuses (bad address, invalid request) will not go through on
      // retry: record it on the step and hand the plan to a rep. Anything else is a fault.
      if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'MailRejected')) throw err;
      setStep(step, 'failed', err.cause.message);
      record('email_failed', `Step ${step.key}: ${err.cause.message}`, `step:${step.key}`);
      escalate('email_failed', `${planId}:email_failed:${step.key}`, `Email for step "${step.key}" failed: ${err.cause.message}`);
      return;
    }
    switch (sent.outcome) {
      case 'sent':
        setStep(step, 'completed', `email sent to ${sent.to}`);
        record('email_sent', `Step ${step.key}: "${sent.subject}" sent to ${sent.to}`, `step:${step.key}`);
        break;
      case 'outside_window':
        step.notBefore = sent.retryAt;
        setStep(step, 'waiting', `outside the send window; waits until ${sent.retryAt}`);
        break;
      case 'nothing_owed':
        state.outstandingMinor = 0;
        setStep(step, 'skipped', 'nothing owed');
        close('resolved', 'nothing owed');
        break;
      case 'opted_out':
        setStep(step, 'skipped', 'contact opted out of email');
        record('email_skipped', `Step ${step.key}: skipped, contact opted out of email`, `step:${step.key}`);
        escalate('opted_out', `${planId}:opted_out`, 'Contact opted out of email: reach them another way');
        break;
      case 'no_contact':
        setStep(step, 'skipped', 'no contact email on the account');
        record('email_skipped', `Step ${step.key}: skipped, no contact email`, `step:${step.key}`);
        escalate('opted_out', `${planId}:no_contact`, 'No contact email on the account');
        break;
    }
    if (sent.outstandingMinor !== undefined) state.outstandingMinor = sent.outstandingMinor;
  }

  // --- the loop ----------------------------------------------------------------------------
  await sync();
  while (!isClosed()) {
    while (inbox.length > 0 && !isClosed()) {
      await handle(inbox.shift()!);
      processed++;
      await sync();
    }
    if (isClosed()) break;

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (inbox.length === 0) {
        await continueAsNew<typeof dunningWorkflow>({
          planId,
          policy,
          carried: { state, seenPaymentIds: [...seenPaymentIds], statusBeforePause, timelineSeq },
        });
      }
      continue;
    }

    const step = state.steps.find((s) => s.status === 'pending' || s.status === 'waiting');
    const hasWork = () => inbox.length > 0;
    if (!step || state.paused) {
      // Nothing scheduled (journey done, waiting for payment / a rep) or paused: sleep until a message.
      await condition(hasWork);
      continue;
    }
    const dueAt = Date.parse(step.notBefore ?? step.scheduledFor);
    if (Date.now() < dueAt) {
      if (step.status !== 'waiting') {
        setStep(step, 'waiting');
        await sync();
      }
      await condition(hasWork, dueAt - Date.now(), { summary: `${humanize(step.key)} on ${iso(dueAt).slice(0, 16).replace('T', ' ')} UTC` });
      continue;
    }
    // Re-check at the moment of acting: still owed? (payments may have arrived while waiting)
    await runStep(step);
    await sync();
  }
  // Let in-flight updates (e.g. the cancel that closed us) return before the run completes.
  // Payments that arrive after the close are still recorded (e.g. an overpayment to refund).
  while (inbox.length > 0) {
    const work = inbox.shift()!;
    if (work.kind === 'payment') await handle(work);
    processed++;
  }
  if (events.length > 0) await sync();
  await condition(allHandlersFinished);
  return state;
}

const humanize = (key: string) => key.replace(/_/g, ' ');

function describe(state: PlanState): string {
  const rows = state.steps.map(
    (s) => `| ${s.key} | ${s.action} | ${s.status} | ${(s.notBefore ?? s.scheduledFor).slice(0, 16).replace('T', ' ')} | ${s.reason ?? ''} |`,
  );
  return [
    `**${state.status}** · ${(state.outstandingMinor / 100).toFixed(2)} ${state.currency} owed` +
      (state.paused ? ` · paused: ${state.paused.reason}` : ''),
    '',
    '| step | action | status | scheduled (UTC) | reason |',
    '|---|---|---|---|---|',
    ...rows,
    ...(state.tasks.length ? ['', `Tasks: ${state.tasks.map((t) => `${t.id} (${t.status})`).join(', ')}`] : []),
  ].join('\n');
}
