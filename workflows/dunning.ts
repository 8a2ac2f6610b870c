// The dunning journey: one workflow per collection plan, an event loop over the policy's steps.
// One writer: signal and update handlers only change in-memory state and queue work; the main
// loop performs every side effect in order, so the db never sees two writes race.
import type { SearchAttributeUpdatePair, UpdateDefinition } from '@temporalio/common';
import {
  ActivityFailure,
  type ActivityOptions,
  type LocalActivityOptions,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  cancelUpdate,
  completeTaskUpdate,
  escalateUpdate,
  paymentReceivedSignal,
  pauseUpdate,
  recordPromiseUpdate,
  resumeUpdate,
  stateQuery,
  type PaymentReceived,
  type PlanState,
  type PlanStatus,
  type PromiseState,
  type RecordPromiseInput,
  type StepState,
  type TaskState,
} from './messages';
import { durationMs } from './domain/duration';
import { closedPlanStatuses } from './domain/statuses';
import type { DunningPolicy } from './domain/policy';
import { AccountId, DunningStatus, DunningStep, NextActionAt, OutstandingAmount } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;

// Database writes: short, retried until the db is back (a restart of PostgreSQL must not lose a
// step). Mail has its own group: a provider outage retries with backoff for longer.
const dbOptions: ActivityOptions & LocalActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['UnknownPlan', 'InvalidPlan'] },
};
// Plans started before the 'local-db-writes' patch run their db writes as regular activities.
const remoteDb = proxyActivities<Activities>(dbOptions);
// Since then, as local activities: run by the worker inside the workflow task and recorded as
// one marker each, so a step costs the server one activity task (the email) instead of three.
const localDb = proxyLocalActivities<Activities>(dbOptions);
const mailOptions: ActivityOptions = {
  // A send takes seconds; a worker that died mid-send is noticed after this and the send is
  // retried with the same idempotency key (the provider and the ledger dedupe it).
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: ['MailRejected'] },
};

export interface DunningWorkflowInput {
  planId: string;
  /** Snapshot of the policy at initiation: editing the policy never changes this journey. */
  policy: DunningPolicy;
  /**
   * Task queue of the mail worker, whose task-queue-wide rate limit keeps sends inside the
   * provider's limit; unset means the workflow's own queue.
   */
  mailTaskQueue?: string;
  /** State carried across continue-as-new. */
  carried?: { state: PlanState; seenPaymentIds: string[]; statusBeforePause?: PlanStatus; statusBeforePromise?: PlanStatus; timelineSeq: number };
}

type Work =
  | { kind: 'payment'; payment: PaymentReceived }
  | { kind: 'escalate'; taskId: string; reason: string }
  | { kind: 'pause'; reason: string }
  | { kind: 'resume' }
  | { kind: 'completeTask'; taskId: string; outcome: string }
  | { kind: 'cancel'; reason: string }
  | { kind: 'promise'; promise: PromiseState };

const iso = (ms: number) => new Date(ms).toISOString();

export async function dunningWorkflow(input: DunningWorkflowInput): Promise<PlanState> {
  const { planId, policy } = input;
  const mail = proxyActivities<Activities>({ ...mailOptions, ...(input.mailTaskQueue && { taskQueue: input.mailTaskQueue }) });
  // Plans started before this patch replay the commands they were started with: every db
  // write a regular activity, a separate write to mark a step waiting, every search attribute
  // upserted on every write. Since: local writes, the next step marked waiting in the write
  // that precedes it, and only the search attributes that changed.
  const leanWrites = patched('local-db-writes');
  const db = leanWrites ? localDb : remoteDb;
  /** The search attributes as last upserted by this run (compared as JSON). */
  const upserted = new Map<string, string>();
  const inbox: Work[] = [];
  /** Receipts and promise notices to send once the state that caused them is saved. */
  let notices: Array<{ template: string; key: string; kind: 'dunning' | 'transactional'; promise?: PromiseState; payment?: { amountMinor: number; paymentId: string } }> = [];
  const seenPaymentIds = new Set(input.carried?.seenPaymentIds ?? []);
  let statusBeforePause = input.carried?.statusBeforePause;
  let statusBeforePromise = input.carried?.statusBeforePromise;
  let timelineSeq = input.carried?.timelineSeq ?? 0;
  let events: Array<{ key: string; seq: number; kind: string; summary: string; at: string }> = [];
  /** Appends to the timeline; `key` makes the db write idempotent, `seq` keeps the order. */
  const record = (kind: string, summary: string, key?: string) => {
    const seq = ++timelineSeq;
    events.push({ key: key ?? `${kind}:${seq}`, seq, kind, summary, at: iso(Date.now()) });
  };

  // Handlers are registered before the first await, so a query or an update that arrives while
  // the plan is still loading finds them; updates wait for the plan and are checked then.
  let state: PlanState = input.carried?.state ?? {
    planId,
    accountId: '',
    status: 'in_progress',
    currency: '',
    outstandingMinor: 0,
    steps: [],
    tasks: [],
    promises: [],
  };
  let ready = Boolean(input.carried);
  const sendWindow = policy.sendWindow;

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
  /**
   * Registers an update whose `check` refuses with a reason a rep can read. Before the plan has
   * loaded, the validator lets the update in and the handler checks it once the plan is ready.
   */
  function onUpdate<Ret, Arg>(def: UpdateDefinition<Ret, [Arg]>, check: (arg: Arg) => void, run: (arg: Arg) => Promise<Ret>, description: string) {
    setHandler(
      def,
      async (arg: Arg) => {
        if (!ready) {
          await condition(() => ready);
          check(arg);
        }
        return run(arg);
      },
      {
        validator: (arg: Arg) => {
          if (ready) check(arg);
        },
        description,
      },
    );
  }

  onUpdate(
    escalateUpdate,
    ({ reason }) => {
      refuseIfClosed();
      requireText('reason', reason);
    },
    async ({ reason }) => {
      const taskId = `${planId}:rep_escalation:${state.tasks.length + inbox.length + 1}`;
      await enqueue({ kind: 'escalate', taskId, reason });
      return { taskId };
    },
    'A rep escalates now: creates an escalation task.',
  );
  onUpdate(
    pauseUpdate,
    ({ reason }) => {
      refuseIfClosed();
      requireText('reason', reason);
      if (state.paused) throw ApplicationFailure.create({ type: 'AlreadyPaused', message: `The plan is already paused (${state.paused.reason}).` });
    },
    async ({ reason }) => {
      await enqueue({ kind: 'pause', reason });
      return state;
    },
    'Pause (e.g. dispute): timers stop, nothing is sent.',
  );
  onUpdate(
    resumeUpdate,
    () => {
      refuseIfClosed();
      if (!state.paused) throw ApplicationFailure.create({ type: 'NotPaused', message: 'The plan is not paused.' });
    },
    async () => {
      await enqueue({ kind: 'resume' });
      return state;
    },
    'Resume a paused plan: steps that fell due meanwhile run now, in order.',
  );
  onUpdate(
    completeTaskUpdate,
    ({ taskId, outcome }) => {
      refuseIfClosed();
      requireText('outcome', outcome);
      const task = state.tasks.find((t) => t.id === taskId);
      if (!task) throw ApplicationFailure.create({ type: 'UnknownTask', message: `The plan has no task "${taskId}".` });
      if (task.status !== 'open') throw ApplicationFailure.create({ type: 'TaskClosed', message: `Task "${taskId}" is already ${task.status}.` });
    },
    async (task) => {
      await enqueue({ kind: 'completeTask', ...task });
      return state;
    },
    'Close a rep task with an outcome (write_off, dispute, or free text).',
  );
  onUpdate(
    recordPromiseUpdate,
    (request) => {
      refuseIfClosed();
      validatePromise(request);
    },
    async (request) => {
      const promise = promiseFrom(request);
      await enqueue({ kind: 'promise', promise });
      return { promiseId: promise.id, status: state.status };
    },
    'A rep records a promise to pay (optionally installments); refused with a reason.',
  );
  onUpdate(
    cancelUpdate,
    ({ reason }) => {
      refuseIfClosed();
      requireText('reason', reason);
    },
    async (cancel) => {
      await enqueue({ kind: 'cancel', ...cancel });
      return state;
    },
    'End the journey cleanly: remaining steps cancelled.',
  );

  // --- promises to pay ---------------------------------------------------------------------
  const refuse = (message: string): never => {
    throw ApplicationFailure.create({ type: 'PromiseRefused', message });
  };
  const openPromise = () => state.promises.find((p) => p.status === 'open');
  /** "promise:2" from "<planId>:promise:2", for message keys that already carry the plan id. */
  const promiseKey = (p: PromiseState) => p.id.slice(planId.length + 1);
  const money = (minor: number) => formatMinor(minor, state);

  /** The schedule a request describes: installments, or one item for a plain promise. */
  function requestedItems(request: RecordPromiseInput): Array<{ amountMinor: number; dueAt: string }> {
    if (request.installments && request.installments.length > 0) return request.installments;
    if (request.amountMinor === undefined || request.dueAt === undefined) refuse('A promise needs an amount and a date, or installments.');
    return [{ amountMinor: request.amountMinor!, dueAt: request.dueAt! }];
  }

  function validatePromise(request: RecordPromiseInput) {
    if (state.paused) refuse(`The plan is paused (${state.paused.reason}); resume it before recording a promise.`);
    if (openPromise()) refuse(`Promise ${openPromise()!.id} is still open.`);
    if (state.promises.length >= policy.maxPromises) {
      refuse(`The plan has reached its limit of ${policy.maxPromises} promise${policy.maxPromises === 1 ? '' : 's'}.`);
    }
    const items = requestedItems(request);
    const horizon = Date.now() + durationMs(policy.promiseHorizon ?? 'P60D');
    let previous = Date.now();
    let total = 0;
    for (const item of items) {
      if (!Number.isSafeInteger(item.amountMinor) || item.amountMinor <= 0) refuse('A promised amount must be more than zero.');
      const at = Date.parse(item.dueAt);
      if (Number.isNaN(at)) refuse(`"${item.dueAt}" is not a date.`);
      if (at <= previous) refuse(at <= Date.now() ? 'The promised date must be in the future.' : 'Installment dates must be in order.');
      if (at > horizon) refuse(`The promised date must be within ${policy.promiseHorizon ?? 'P60D'} of today.`);
      previous = at;
      total += item.amountMinor;
    }
    if (request.amountMinor !== undefined && request.installments?.length && request.amountMinor !== total) {
      refuse('The promised amount must equal the sum of the installments.');
    }
    if (total > state.outstandingMinor) refuse(`The promised amount is more than the ${money(state.outstandingMinor)} owed.`);
  }

  function promiseFrom(request: RecordPromiseInput): PromiseState {
    const items = requestedItems(request);
    return {
      id: `${planId}:promise:${state.promises.length + 1}`,
      amountMinor: items.reduce((sum, i) => sum + i.amountMinor, 0),
      dueOn: new Date(Date.parse(items[items.length - 1]!.dueAt)).toISOString(),
      status: 'open',
      rep: request.rep,
      createdAt: iso(Date.now()),
      paidMinor: 0,
      items: items.map((i, n) => ({ seq: n + 1, amountMinor: i.amountMinor, dueOn: new Date(Date.parse(i.dueAt)).toISOString(), status: 'open' })),
    };
  }

  function settlePromise(promise: PromiseState, status: 'kept' | 'broken', reason: string) {
    promise.status = status;
    for (const item of promise.items) if (item.status === 'open') item.status = status === 'kept' ? 'kept' : 'cancelled';
    record(`promise_${status}`, `Promise ${promise.id}: ${reason}`, `promise-${status}:${promise.id}`);
    if (isClosed()) return;
    const before = statusBeforePromise ?? 'in_progress';
    statusBeforePromise = undefined;
    if (status === 'kept') {
      state.status = before;
    } else {
      escalate('promise_broken', `${promise.id}:broken`, `Promise broken: ${reason}`);
      notices.push({ template: 'promise-broken', key: `${promiseKey(promise)}:broken`, kind: 'dunning', promise });
      state.status = 'escalated';
    }
  }

  /** Matches payments to the open promise: kept as soon as it is paid in full. */
  function matchPayment(amountMinor: number) {
    const promise = openPromise();
    if (!promise) return;
    promise.paidMinor += amountMinor;
    let cumulative = 0;
    for (const item of promise.items) {
      cumulative += item.amountMinor;
      if (item.status === 'open' && promise.paidMinor >= cumulative) item.status = 'kept';
    }
    if (promise.paidMinor >= promise.amountMinor) settlePromise(promise, 'kept', 'paid in full');
  }

  /** At an installment's date + grace: paid up to it → kept so far; otherwise broken. */
  function checkPromise(promise: PromiseState, seq: number) {
    const item = promise.items.find((i) => i.seq === seq)!;
    const due = promise.items.filter((i) => i.seq <= seq).reduce((sum, i) => sum + i.amountMinor, 0);
    if (promise.paidMinor >= due) {
      item.status = 'kept';
      if (promise.items.every((i) => i.status === 'kept')) settlePromise(promise, 'kept', 'paid on time');
      return;
    }
    item.status = 'broken';
    settlePromise(promise, 'broken', `installment ${seq} of ${money(item.amountMinor)} not paid (paid ${money(promise.paidMinor)} of ${money(due)} due)`);
  }

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
    for (const promise of state.promises) {
      if (promise.status !== 'open') continue;
      promise.status = status === 'resolved' ? 'kept' : 'cancelled';
      for (const item of promise.items) if (item.status === 'open') item.status = promise.status;
    }
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

  /** The step the loop acts on next, if the plan is moving (not closed, paused or promised). */
  const nextStep = () => (isClosed() || state.paused || openPromise() ? undefined : state.steps.find((s) => s.status === 'pending' || s.status === 'waiting'));

  /** Writes the state (plan, steps, new timeline events) in one activity, and tells ops. */
  async function sync() {
    if (leanWrites) {
      // Saves the loop a write of its own before it sleeps until the step's time.
      const step = nextStep();
      if (step?.status === 'pending' && Date.now() < Date.parse(step.notBefore ?? step.scheduledFor)) setStep(step, 'waiting');
    }
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
      promises: state.promises,
      events: batch,
    });
    const attributes: SearchAttributeUpdatePair[] = [
      { key: DunningStatus, value: state.status },
      { key: DunningStep, value: next?.key ?? null },
      { key: AccountId, value: state.accountId },
      { key: OutstandingAmount, value: state.outstandingMinor / 10 ** (state.currencyDigits ?? 2) },
      { key: NextActionAt, value: state.nextActionAt ? new Date(state.nextActionAt) : null },
    ];
    const changed = leanWrites ? attributes.filter((a) => upserted.get(a.key.name) !== JSON.stringify(a.value)) : attributes;
    if (changed.length > 0) upsertSearchAttributes(changed);
    for (const a of changed) upserted.set(a.key.name, JSON.stringify(a.value));
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
          notices.push({ template: 'payment-receipt', key: `payment:${payment.paymentId}:receipt`, kind: 'transactional', payment });
          matchPayment(payment.amountMinor);
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
      case 'promise':
        state.promises.push(work.promise);
        statusBeforePromise = state.status;
        state.status = 'promised';
        record(
          'promise_made',
          `Promise ${work.promise.id}: ${money(work.promise.amountMinor)} by ${work.promise.dueOn.slice(0, 16).replace('T', ' ')} UTC` +
            (work.promise.items.length > 1 ? ` in ${work.promise.items.length} installments` : '') +
            (work.promise.rep ? `, recorded by ${work.promise.rep}` : ''),
          `promise:${work.promise.id}`,
        );
        notices.push({ template: 'promise-confirmation', key: `${promiseKey(work.promise)}:confirmation`, kind: 'transactional', promise: work.promise });
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
        { planId, stepKey: step.key, template: step.template ?? step.key, kind: 'dunning', sendWindow, at: iso(Date.now()) },
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

  /** Sends queued receipts and promise notices; a refused one is noted, never fatal. */
  async function sendNotices() {
    const batch = notices;
    notices = [];
    for (const n of batch) {
      const label = n.template.replace(/-/g, ' ');
      try {
        const sent = await mail.sendStepEmail.executeWithOptions({ summary: `${label} email` }, [
          {
            planId,
            stepKey: n.key,
            template: n.template,
            kind: n.kind,
            at: iso(Date.now()),
            promise: n.promise && { amountMinor: n.promise.amountMinor, dueAt: n.promise.dueOn, installments: n.promise.items.length },
            payment: n.payment,
          },
        ]);
        if (sent.outcome === 'sent') record('email_sent', `${label}: "${sent.subject}" sent to ${sent.to}`, `email:${n.key}`);
        else record('email_skipped', `${label}: not sent (${sent.outcome.replace('_', ' ')})`, `email:${n.key}`);
      } catch (err) {
        if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'MailRejected')) throw err;
        record('email_failed', `${label}: ${err.cause.message}`, `email:${n.key}`);
      }
    }
    if (batch.length > 0) await sync();
  }

  // --- begin -------------------------------------------------------------------------------
  if (!input.carried) {
    const begun = await db.beginPlan({ planId, policy, initiatedAt: iso(Date.now()) });
    state = {
      planId,
      accountId: begun.accountId,
      status: 'in_progress',
      currency: begun.currency,
      currencyDigits: begun.currencyDigits,
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
  ready = true;

  // --- the loop ----------------------------------------------------------------------------
  await sync();
  while (!isClosed()) {
    while (inbox.length > 0 && !isClosed()) {
      await handle(inbox.shift()!);
      processed++;
      await sync();
      await sendNotices();
    }
    if (isClosed()) break;

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (inbox.length === 0) {
        await continueAsNew<typeof dunningWorkflow>({
          planId,
          policy,
          mailTaskQueue: input.mailTaskQueue,
          carried: { state, seenPaymentIds: [...seenPaymentIds], statusBeforePause, statusBeforePromise, timelineSeq },
        });
      }
      continue;
    }

    const hasWork = () => inbox.length > 0;
    if (state.paused) {
      // Paused: timers stop, nothing is sent; sleep until a message (resume, payment, cancel).
      await condition(hasWork);
      continue;
    }
    // While a promise is open the regular reminders hold; each installment is checked on its
    // date plus the policy's grace.
    const promise = openPromise();
    if (promise) {
      const item = promise.items.find((i) => i.status === 'open')!;
      const checkAt = Date.parse(item.dueOn) + durationMs(policy.promiseGrace);
      if (Date.now() < checkAt) {
        await condition(hasWork, checkAt - Date.now(), { summary: `promise check on ${iso(checkAt).slice(0, 16).replace('T', ' ')} UTC` });
      } else {
        checkPromise(promise, item.seq);
        await sync();
        await sendNotices();
      }
      continue;
    }
    const step = state.steps.find((s) => s.status === 'pending' || s.status === 'waiting');
    if (!step) {
      // The journey is done: wait for a payment, a promise or a rep.
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
  await sendNotices();
  await condition(allHandlersFinished);
  return state;
}

const humanize = (key: string) => key.replace(/_/g, ' ');

/** "1500.50 EUR": plain arithmetic (the workflow has no locale data; emails format properly). */
function formatMinor(minor: number, state: Pick<PlanState, 'currency' | 'currencyDigits'>): string {
  const digits = state.currencyDigits ?? 2;
  return `${(minor / 10 ** digits).toFixed(digits)} ${state.currency}`;
}

function describe(state: PlanState): string {
  const rows = state.steps.map(
    (s) => `| ${s.key} | ${s.action} | ${s.status} | ${(s.notBefore ?? s.scheduledFor).slice(0, 16).replace('T', ' ')} | ${s.reason ?? ''} |`,
  );
  return [
    `**${state.status}** · ${formatMinor(state.outstandingMinor, state)} owed` +
      (state.paused ? ` · paused: ${state.paused.reason}` : ''),
    '',
    '| step | action | status | scheduled (UTC) | reason |',
    '|---|---|---|---|---|',
    ...rows,
    ...(state.tasks.length ? ['', `Tasks: ${state.tasks.map((t) => `${t.id} (${t.status})`).join(', ')}`] : []),
  ].join('\n');
}
