// The dunning journey: one workflow per collection plan, an event loop over the policy's steps.
// One writer: signal and update handlers only queue work; the main loop carries it out and
// performs every side effect in order, so the db never sees two writes race. How the plan moves
// between statuses, and why it refuses, lives in journey.ts; this file drives it.
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
  holdInvoiceUpdate,
  releaseInvoiceUpdate,
  paymentReceivedSignal,
  pauseUpdate,
  recordPromiseUpdate,
  resumeUpdate,
  stateQuery,
  type PlanState,
  type StepState,
} from './messages';
import { failureTypes } from './domain/failures';
import { toMajorUnits } from './domain/money';
import type { DunningPolicy } from './domain/policy';
import { iso, utcMinute } from './domain/time';
import { words } from './domain/timeline';
import { Journey, noticeLabel, type CarriedJourney, type Work } from './journey';
import { isEndAction } from './domain/statuses';
import { countStepCompleted, countTimeline } from './metrics';
import { AccountId, DunningStatus, DunningStep, NextActionAt, OutstandingAmount } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;

// Database writes: short, retried until the db is back (a restart of PostgreSQL must not lose a
// step). Mail has its own group: a provider outage retries with backoff for longer.
const dbOptions: ActivityOptions & LocalActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: [failureTypes.UnknownPlan] },
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
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: [failureTypes.MailRejected] },
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
  carried?: CarriedJourney;
}

/** Queued work and, once the loop has carried it out, what its update returns or why it failed. */
interface Job {
  work: Work;
  outcome?: { value: unknown } | { failure: ApplicationFailure };
}

/**
 * An activity's own refusal of a rep's request (an invoice the plan does not have). A local
 * activity's failure reaches the workflow as the ApplicationFailure itself; a remote one's as its cause.
 */
function activityRefusal(err: unknown): ApplicationFailure | undefined {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure && failure.type === failureTypes.UnknownInvoice ? failure : undefined;
}
/** The provider refused the message for good: no retry will get it through. */
const isMailRejected = (err: unknown): err is ActivityFailure & { cause: ApplicationFailure } =>
  err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === failureTypes.MailRejected;

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
  const journey = new Journey(planId, policy, input.carried);
  const inbox: Job[] = [];
  let ready = Boolean(input.carried);

  // --- messages in -------------------------------------------------------------------------
  // Handlers are registered before the first await, so a query or an update that arrives while
  // the plan is still loading finds them; updates wait for the plan and are checked then.
  setHandler(stateQuery, () => journey.state, { description: 'The orchestration plan, owed amount, promises, tasks, next action.' });
  setHandler(
    paymentReceivedSignal,
    (payment) => {
      // Idempotent by payment id: a repeat delivery from the billing system changes nothing.
      if (journey.isNewPayment(payment.paymentId)) inbox.push({ work: { kind: 'payment', payment } });
    },
    { description: 'Billing reports a payment (idempotent by paymentId).' },
  );
  /**
   * Registers an update as work for the loop. The validator refuses with the plan's sentence;
   * before the plan has loaded it lets the update in and the handler checks it once ready.
   */
  function onUpdate<Ret, Arg>(def: UpdateDefinition<Ret, [Arg]>, workFor: (arg: Arg) => Work, description: string) {
    const check = (arg: Arg) => {
      const refused = journey.refusal(workFor(arg), Date.now());
      if (refused) throw refused;
    };
    setHandler(
      def,
      async (arg: Arg) => {
        if (!ready) {
          await condition(() => ready);
          check(arg);
        }
        const job: Job = { work: workFor(arg) };
        inbox.push(job);
        await condition(() => job.outcome !== undefined);
        if ('failure' in job.outcome!) throw job.outcome.failure;
        return job.outcome!.value as Ret;
      },
      {
        validator: (arg: Arg) => {
          if (ready) check(arg);
        },
        description,
      },
    );
  }
  // Who asked, or a note, as the timeline writes it: text only (it changes no command, only what an activity records).
  const actor = (text: unknown) => (typeof text === 'string' && text.trim() ? text.trim().slice(0, 500) : undefined);
  onUpdate(escalateUpdate, ({ reason, by }) => ({ kind: 'escalate', reason, by: actor(by) }), 'A rep escalates now: creates an escalation task.');
  onUpdate(
    pauseUpdate,
    ({ reason, until, by }) => ({ kind: 'pause', reason, until, by: actor(by) }),
    'Pause (e.g. dispute): timers stop, nothing is sent; with `until`, the plan resumes by itself then.',
  );
  onUpdate(resumeUpdate, (input) => ({ kind: 'resume', by: actor(input?.by) }), 'Resume a paused plan: steps that fell due meanwhile run now, in order.');
  onUpdate(
    holdInvoiceUpdate,
    ({ invoiceNumber, reason, until, by }) => ({ kind: 'holdInvoice', invoiceNumber, reason, until, by: actor(by) }),
    'Hold one invoice for a dispute: it leaves what is owed, the emails and the promise limits while the others are collected; with `until`, it comes back by itself then.',
  );
  onUpdate(
    releaseInvoiceUpdate,
    ({ invoiceNumber, by }) => ({ kind: 'releaseInvoice', invoiceNumber, by: actor(by) }),
    'Release a held invoice: it is collected again.',
  );
  onUpdate(completeTaskUpdate, ({ taskId, outcome, note, by }) => ({ kind: 'completeTask', taskId, outcome, note: actor(note), by: actor(by) }), 'Close a rep task with an outcome (write_off, dispute, or free text).');
  onUpdate(recordPromiseUpdate, (request) => ({ kind: 'promise', request }), 'A rep records a promise to pay (optionally installments); refused with a reason.');
  onUpdate(cancelUpdate, ({ reason, by }) => ({ kind: 'cancel', reason, by: actor(by) }), 'End the journey cleanly: remaining steps cancelled.');

  // --- carrying out work -------------------------------------------------------------------
  /**
   * Checks the work again now that it is its turn: two updates accepted in the same workflow
   * task both passed their validator against the state before either ran.
   */
  async function take(job: Job) {
    const refused = journey.refusal(job.work, Date.now());
    // Histories from before the re-check carried such work out regardless; they replay as they ran.
    if (refused && patched('recheck-work-in-loop')) job.outcome = { failure: refused };
    else {
      try {
        job.outcome = { value: await carryOut(job.work) };
      } catch (err) {
        // An activity's refusal (an invoice the plan does not have) is the update's answer.
        const refused = activityRefusal(err);
        if (!refused) throw err;
        job.outcome = { failure: refused };
      }
    }
  }

  /** Holds or releases one invoice in the db; what is owed after, and what the invoice owed. */
  async function setInvoiceHold(invoiceNumber: string, held: boolean, reason?: string) {
    return db.setInvoiceHold.executeWithOptions({ summary: `${held ? 'hold' : 'release'} invoice ${invoiceNumber}` }, [{ planId, invoiceNumber, held, reason }]);
  }

  /** Applies one piece of work; returns what its update answers. */
  async function carryOut(work: Work): Promise<unknown> {
    const now = Date.now();
    switch (work.kind) {
      case 'payment': {
        const { payment } = work;
        const applied = await db.recordPayment.executeWithOptions({ summary: `record payment ${payment.paymentId}` }, [
          { planId, ...payment, receivedAt: payment.receivedAt ?? iso(now) },
        ]);
        journey.paymentApplied(payment, applied, Date.now());
        // A paid first invoice no longer dates the reminders: the steps ahead follow the
        // earliest invoice still open. Histories from before replay with the dates they had.
        const moves = journey.scheduleMoves(applied.schedule);
        if (moves.length > 0 && patched('reanchor-on-payment')) journey.reanchor(applied.schedule!.dueOn, moves, Date.now());
        return undefined;
      }
      case 'escalate':
        return { taskId: journey.escalateByRep(work.reason, now, work.by) };
      case 'pause':
        // Workers from before this patch ignored an end date a newer client sent: such plans
        // replay as they ran, paused until a rep resumes them.
        journey.pause(work.reason, now, { until: work.until !== undefined && patched('pause-until') ? work.until : undefined, by: work.by });
        return journey.state;
      case 'resume':
        journey.resume(now, { by: work.by });
        return journey.state;
      case 'holdInvoice':
        journey.holdInvoice(work, await setInvoiceHold(work.invoiceNumber, true, work.reason), Date.now());
        return journey.state;
      case 'releaseInvoice':
        journey.releaseInvoice(work.invoiceNumber, await setInvoiceHold(work.invoiceNumber, false), Date.now(), { by: work.by });
        return journey.state;
      case 'completeTask':
        journey.completeTask(work.taskId, work.outcome, now, { note: work.note, by: work.by });
        return journey.state;
      case 'cancel':
        journey.cancel(work.reason, now, work.by);
        return journey.state;
      case 'promise': {
        const promise = journey.makePromise(work.request, now);
        return { promiseId: promise.id, status: journey.state.status };
      }
    }
  }

  /** Writes the state (plan, steps, new timeline events) in one activity, and tells ops. */
  async function sync() {
    // Saves the loop a write of its own before it sleeps until the step's time.
    if (leanWrites) journey.markNextStepWaiting(Date.now());
    const next = journey.refreshNextAction();
    const { state } = journey;
    const events = journey.takeEvents();
    countTimeline(events);
    await db.syncPlan({
      planId,
      // The workflow's time of this sync: a write from an attempt the server has given up on
      // (a timed-out workflow task, still running on an overloaded worker) carries an earlier
      // one, and must not land over what a later attempt wrote.
      syncedAt: new Date().toISOString(),
      status: state.status,
      outstandingMinor: state.outstandingMinor,
      steps: state.steps,
      tasks: state.tasks,
      promises: state.promises,
      events,
    });
    const attributes: SearchAttributeUpdatePair[] = [
      { key: DunningStatus, value: state.status },
      { key: DunningStep, value: next?.key ?? null },
      { key: AccountId, value: state.accountId },
      { key: OutstandingAmount, value: toMajorUnits(state.outstandingMinor, state.currencyDigits) },
      { key: NextActionAt, value: state.nextActionAt ? new Date(state.nextActionAt) : null },
    ];
    const changed = leanWrites ? attributes.filter((a) => upserted.get(a.key.name) !== JSON.stringify(a.value)) : attributes;
    if (changed.length > 0) upsertSearchAttributes(changed);
    for (const a of changed) upserted.set(a.key.name, JSON.stringify(a.value));
    setCurrentDetails(journey.describe());
  }

  async function runStep(step: StepState) {
    journey.startStep(step, Date.now());
    if (step.action === 'task') {
      journey.taskStepDone(step, Date.now());
      countStepCompleted(step);
      return;
    }
    // Only policies that name one have an end action, so no earlier history reaches this.
    if (isEndAction(step.action)) {
      journey.endActionDone(step, step.action, Date.now());
      countStepCompleted(step);
      return;
    }
    // A cap and a fee ride along only when the policy has them: earlier histories send as they did.
    const fee = policy.steps.find((s) => s.key === step.key)?.fee;
    try {
      const sent = await mail.sendStepEmail.executeWithOptions({ summary: `${words(step.key)} email` }, [
        {
          planId,
          stepKey: step.key,
          template: step.template ?? step.key,
          kind: 'dunning',
          sendWindow: policy.sendWindow,
          at: iso(Date.now()),
          ...(policy.contactCap && { contactCap: policy.contactCap }),
          ...(fee && { fee }),
        },
      ]);
      journey.stepEmailed(step, sent, Date.now());
      countStepCompleted(step);
    } catch (err) {
      // A message the provider refuses (bad address, invalid request) will not go through on
      // retry: record it on the step and hand the plan to a rep. Anything else is a fault.
      if (!isMailRejected(err)) throw err;
      journey.stepEmailRejected(step, err.cause.message, Date.now());
    }
  }

  /** Sends queued receipts and promise notices; a refused one is noted, never fatal. */
  async function sendNotices() {
    const batch = journey.takeNotices();
    for (const notice of batch) {
      try {
        const sent = await mail.sendStepEmail.executeWithOptions({ summary: `${noticeLabel(notice)} email` }, [
          {
            planId,
            stepKey: notice.key,
            template: notice.template,
            kind: notice.kind,
            at: iso(Date.now()),
            promise: notice.promise && { amountMinor: notice.promise.amountMinor, dueAt: notice.promise.dueOn, installments: notice.promise.items.length },
            payment: notice.payment,
          },
        ]);
        journey.noticeSent(notice, { sent }, Date.now());
      } catch (err) {
        if (!isMailRejected(err)) throw err;
        journey.noticeSent(notice, { rejected: err.cause.message }, Date.now());
      }
    }
    if (batch.length > 0) await sync();
  }

  // --- 1. begin: the plan as the db has it, the "upcoming invoices" notice first -------------
  if (!input.carried) journey.begin(await db.beginPlan({ planId, policy, initiatedAt: iso(Date.now()) }), Date.now());
  ready = true;
  await sync();

  const hasWork = () => inbox.length > 0;
  while (!journey.isClosed()) {
    // --- messages first: payments, promises, escalations, pauses, in the order they came ----
    while (inbox.length > 0 && !journey.isClosed()) {
      await take(inbox.shift()!);
      await sync();
      await sendNotices();
    }
    if (journey.isClosed()) break;

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (inbox.length === 0) {
        await continueAsNew<typeof dunningWorkflow>({ planId, policy, mailTaskQueue: input.mailTaskQueue, carried: journey.carry() });
      }
      continue;
    }

    // --- paused: timers stop, nothing is sent; sleep until a message (resume, payment, cancel)
    // or the pause's end date, if it has one: then it resumes as a rep's resume does.
    if (journey.state.paused) {
      const ends = journey.pauseEnds();
      if (ends === undefined) {
        await condition(hasWork);
      } else if (Date.now() < ends) {
        await condition(hasWork, ends - Date.now(), { summary: `pause ends on ${utcMinute(ends)}` });
      } else {
        journey.resume(Date.now(), { automatic: true });
        await sync();
      }
      continue;
    }

    // --- invoice holds: one that has come to its end date is collected again (plans with no
    // held invoice never reach this, so their histories are unchanged)
    const holdEnds = journey.nextHoldEnd();
    if (holdEnds && Date.now() >= holdEnds.at) {
      journey.releaseInvoice(holdEnds.invoiceNumber, await setInvoiceHold(holdEnds.invoiceNumber, false), Date.now(), { automatic: true });
      await sync();
      continue;
    }
    /** Waits for work until `at`, or until an invoice's hold ends if that is sooner. */
    const sleepUntil = (at: number, summary: string) =>
      holdEnds && holdEnds.at < at
        ? condition(hasWork, holdEnds.at - Date.now(), { summary: `hold of invoice ${holdEnds.invoiceNumber} ends on ${utcMinute(holdEnds.at)}` })
        : condition(hasWork, at - Date.now(), { summary });
    if (journey.onlyHeldRemain()) {
      // Only held invoices are owed: nothing to ask for until a hold ends or a rep acts.
      if (holdEnds) await sleepUntil(holdEnds.at, '');
      else await condition(hasWork);
      continue;
    }

    // --- promise monitoring: the reminders hold; each installment is checked on its date plus grace
    const check = journey.nextPromiseCheck();
    if (check) {
      if (Date.now() < check.at) {
        await sleepUntil(check.at, `promise check on ${utcMinute(check.at)}`);
      } else {
        journey.checkInstallment(check.seq, Date.now());
        await sync();
        await sendNotices();
      }
      continue;
    }

    // --- the policy's steps in order: notice, reminders, escalation task, each on its time --
    const step = journey.nextStep();
    if (!step) {
      // The journey is done: wait for a payment, a promise, a rep, or a hold's end.
      if (holdEnds) await sleepUntil(holdEnds.at, '');
      else await condition(hasWork);
      continue;
    }
    const dueAt = Date.parse(step.notBefore ?? step.scheduledFor);
    if (Date.now() < dueAt) {
      if (step.status !== 'waiting') {
        journey.stepWaiting(step, Date.now());
        await sync();
      }
      await sleepUntil(dueAt, `${words(step.key)} on ${utcMinute(dueAt)}`);
      continue;
    }
    // Re-check at the moment of acting: still owed? (payments may have arrived while waiting)
    await runStep(step);
    await sync();
  }

  // --- closed: resolved, cancelled or written off ------------------------------------------
  // Payments that arrive after the close are still recorded (e.g. an overpayment to refund);
  // updates queued behind the close are refused, so their callers learn nothing was done.
  while (inbox.length > 0) {
    const job = inbox.shift()!;
    if (job.work.kind === 'payment') await carryOut(job.work);
    else job.outcome = { failure: journey.refusal(job.work, Date.now())! };
  }
  if (journey.hasEvents()) await sync();
  await sendNotices();
  // Let in-flight updates (e.g. the cancel that closed us) return before the run completes.
  await condition(allHandlersFinished);
  return journey.state;
}
