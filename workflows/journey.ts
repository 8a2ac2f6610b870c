// The life of one collection plan: how it moves between statuses, the promise rules, the ids it
// hands out, its timeline and the notices it owes. Pure and deterministic (no I/O; `now` comes
// in from the caller), so the workflow drives it and unit tests run it without a server.
import { ApplicationFailure } from '@temporalio/common';
import type { createActivities } from '../activities';
import type { HeldInvoice, PaymentReceived, PlanState, PlanStatus, PromiseState, RecordPromiseInput, StepState, TaskState, TimelineEvent } from './messages';
import { durationMs } from './domain/duration';
import { failureTypes, type FailureType } from './domain/failures';
import { formatMinor } from './domain/money';
import type { DunningPolicy } from './domain/policy';
import { endActions, finishedStepStatuses, isClosedStatus, nextOpenStep, openStepStatuses, type EndAction } from './domain/statuses';
import { iso, isoMinute, utcMinute } from './domain/time';
import { closedSummary, paymentSummary, words } from './domain/timeline';

type Activities = ReturnType<typeof createActivities>;
type Begun = Awaited<ReturnType<Activities['beginPlan']>>;
/** What beginPlan answered; histories recorded before it reported `timelineSeq` lack it. */
export type BegunPlan = Omit<Begun, 'timelineSeq'> & Partial<Pick<Begun, 'timelineSeq'>>;
export type PaymentApplied = Awaited<ReturnType<Activities['recordPayment']>>;
type PaymentSchedule = NonNullable<PaymentApplied['schedule']>;
export type StepEmailResult = Awaited<ReturnType<Activities['sendStepEmail']>>;

/** What a rep or billing asks of the plan; handlers queue it, the workflow loop carries it out. */
export type Work =
  | { kind: 'payment'; payment: PaymentReceived }
  | { kind: 'escalate'; reason: string; by?: string }
  | { kind: 'pause'; reason: string; until?: string; by?: string }
  | { kind: 'holdInvoice'; invoiceNumber: string; reason: string; until?: string; by?: string }
  | { kind: 'releaseInvoice'; invoiceNumber: string; by?: string }
  | { kind: 'resume'; by?: string }
  | { kind: 'completeTask'; taskId: string; outcome: string; note?: string; by?: string }
  | { kind: 'cancel'; reason: string; by?: string }
  | { kind: 'promise'; request: RecordPromiseInput };

/** A receipt or promise notice, sent once the state that caused it is saved. */
export interface Notice {
  template: string;
  key: string;
  kind: 'dunning' | 'transactional';
  promise?: PromiseState;
  payment?: PaymentReceived;
}

/** What a plan carries across continue-as-new. Counters are optional: older runs lack them. */
export interface CarriedJourney {
  state: PlanState;
  seenPaymentIds: string[];
  statusBeforePause?: PlanStatus;
  statusBeforePromise?: PlanStatus;
  timelineSeq: number;
  /** The last rep escalation and promise numbers handed out: ids never repeat. */
  repEscalationSeq?: number;
  promiseSeq?: number;
}

const refusal = (type: FailureType, message: string) => ApplicationFailure.create({ type: failureTypes[type], message });

/** The highest n among ids "<prefix>n" (0 if none): where a counter resumes for older runs. */
function highestSeq(ids: string[], prefix: string): number {
  return ids.reduce((max, id) => (id.startsWith(prefix) ? Math.max(max, Number(id.slice(prefix.length)) || 0) : max), 0);
}

export class Journey {
  state: PlanState;
  private readonly seenPaymentIds: Set<string>;
  /** Where resume returns to: the status the plan had (or gained while on hold). */
  private statusBeforePause?: PlanStatus;
  /** Where a kept promise returns to. */
  private statusBeforePromise?: PlanStatus;
  private timelineSeq: number;
  private repEscalationSeq: number;
  private promiseSeq: number;
  private events: TimelineEvent[] = [];
  private notices: Notice[] = [];

  constructor(
    readonly planId: string,
    readonly policy: DunningPolicy,
    carried?: CarriedJourney,
  ) {
    this.state = carried?.state ?? {
      planId,
      accountId: '',
      status: 'in_progress',
      currency: '',
      outstandingMinor: 0,
      steps: [],
      tasks: [],
      promises: [],
    };
    this.seenPaymentIds = new Set(carried?.seenPaymentIds ?? []);
    this.statusBeforePause = carried?.statusBeforePause;
    this.statusBeforePromise = carried?.statusBeforePromise;
    this.timelineSeq = carried?.timelineSeq ?? 0;
    this.repEscalationSeq = carried?.repEscalationSeq ?? highestSeq(this.state.tasks.map((t) => t.id), `${planId}:rep_escalation:`);
    this.promiseSeq = carried?.promiseSeq ?? highestSeq(this.state.promises.map((p) => p.id), `${planId}:promise:`);
  }

  carry(): CarriedJourney {
    return {
      state: this.state,
      seenPaymentIds: [...this.seenPaymentIds],
      statusBeforePause: this.statusBeforePause,
      statusBeforePromise: this.statusBeforePromise,
      timelineSeq: this.timelineSeq,
      repEscalationSeq: this.repEscalationSeq,
      promiseSeq: this.promiseSeq,
    };
  }

  /** The plan as the db has it at initiation: steps pending, nothing owed closes it at once. */
  begin(begun: BegunPlan, now: number) {
    this.state = {
      planId: this.planId,
      accountId: begun.accountId,
      status: 'in_progress',
      currency: begun.currency,
      currencyDigits: begun.currencyDigits,
      outstandingMinor: begun.outstandingMinor,
      steps: begun.steps.map((s) => ({ key: s.key, ordinal: s.ordinal, action: s.action, template: s.template, status: 'pending', scheduledFor: s.scheduledFor })),
      tasks: [],
      promises: [],
    };
    // Entries written before the journey began (a payment reported with no journey) come first.
    this.timelineSeq = Math.max(this.timelineSeq, begun.timelineSeq ?? 0);
    this.record('initiated', `Dunning initiated under policy "${this.policy.name}"; ${begun.owedDisplay} owed`, now, 'initiated');
    if (begun.outstandingMinor <= 0) this.close('resolved', 'nothing owed at initiation', now);
  }

  // --- what the plan is doing ------------------------------------------------------------------
  isClosed(): boolean {
    return isClosedStatus(this.state.status);
  }

  openPromise(): PromiseState | undefined {
    return this.state.promises.find((p) => p.status === 'open');
  }

  /** The step the loop acts on next, if the plan is moving (not closed, paused or promised). */
  nextStep(): StepState | undefined {
    return this.isClosed() || this.state.paused || this.openPromise() ? undefined : nextOpenStep(this.state.steps);
  }

  /** When the open promise's next installment is checked: its date plus the policy's grace. */
  nextPromiseCheck(): { seq: number; at: number } | undefined {
    const item = this.openPromise()?.items.find((i) => i.status === 'open');
    return item && { seq: item.seq, at: Date.parse(item.dueOn) + durationMs(this.policy.promiseGrace) };
  }

  /** A billing payment id seen for the first time (repeat deliveries change nothing). */
  isNewPayment(paymentId: string): boolean {
    if (this.seenPaymentIds.has(paymentId)) return false;
    this.seenPaymentIds.add(paymentId);
    return true;
  }

  // --- checks: the sentence a rep reads when the plan refuses ----------------------------------
  /** Why the plan refuses this work now, if it does. Run when it arrives and when it is carried out. */
  refusal(work: Work, now: number): ApplicationFailure | undefined {
    if (work.kind === 'payment') return undefined;
    if (this.isClosed()) return refusal('PlanClosed', `The plan is already ${this.state.status}.`);
    switch (work.kind) {
      case 'escalate':
      case 'cancel':
        return requireText('reason', work.reason);
      case 'pause': {
        const missing = requireText('reason', work.reason);
        if (missing) return missing;
        if (this.state.paused) return refusal('AlreadyPaused', `The plan is already paused (${this.state.paused.reason}).`);
        return endDateRefusal(work.until, now);
      }
      case 'resume':
        return this.state.paused ? undefined : refusal('NotPaused', 'The plan is not paused.');
      case 'holdInvoice': {
        const missing = requireText('invoiceNumber', work.invoiceNumber) ?? requireText('reason', work.reason);
        if (missing) return missing;
        const held = this.heldInvoice(work.invoiceNumber);
        if (held) return refusal('InvoiceHeld', `Invoice ${work.invoiceNumber} is already held (${held.reason}).`);
        return endDateRefusal(work.until, now, 'hold');
      }
      case 'releaseInvoice': {
        const missing = requireText('invoiceNumber', work.invoiceNumber);
        if (missing) return missing;
        return this.heldInvoice(work.invoiceNumber) ? undefined : refusal('InvoiceNotHeld', `Invoice ${work.invoiceNumber} is not held.`);
      }
      case 'completeTask': {
        const missing = requireText('outcome', work.outcome);
        if (missing) return missing;
        const task = this.state.tasks.find((t) => t.id === work.taskId);
        if (!task) return refusal('UnknownTask', `The plan has no task "${work.taskId}".`);
        return task.status === 'open' ? undefined : refusal('TaskClosed', `Task "${work.taskId}" is already ${task.status}.`);
      }
      case 'promise': {
        const reason = this.promiseRefusal(work.request, now);
        return reason === undefined ? undefined : refusal('PromiseRefused', reason);
      }
    }
  }

  /** The promise rules: why this request is refused, or undefined if the plan accepts it. */
  promiseRefusal(request: RecordPromiseInput, now: number): string | undefined {
    const { policy, state } = this;
    if (state.paused) return `The plan is paused (${state.paused.reason}); resume it before recording a promise.`;
    const open = this.openPromise();
    if (open) return `Promise ${open.id} is still open.`;
    if (state.promises.length >= policy.maxPromises) {
      return `The plan has reached its limit of ${policy.maxPromises} promise${policy.maxPromises === 1 ? '' : 's'}.`;
    }
    const items = requestedItems(request);
    if (!items) return 'A promise needs an amount and a date, or installments.';
    const horizon = policy.promiseHorizon ?? 'P60D';
    const latest = now + durationMs(horizon);
    let previous = now;
    let total = 0;
    for (const item of items) {
      if (!Number.isSafeInteger(item.amountMinor) || item.amountMinor <= 0) return 'A promised amount must be more than zero.';
      const at = Date.parse(item.dueAt);
      if (Number.isNaN(at)) return `"${item.dueAt}" is not a date.`;
      if (at <= previous) return at <= now ? 'The promised date must be in the future.' : 'Installment dates must be in order.';
      if (at > latest) return `The promised date must be within ${horizon} of today.`;
      previous = at;
      total += item.amountMinor;
    }
    if (request.amountMinor !== undefined && request.installments?.length && request.amountMinor !== total) {
      return 'The promised amount must equal the sum of the installments.';
    }
    if (total > state.outstandingMinor) return `The promised amount is more than the ${this.money(state.outstandingMinor)} owed.`;
    return undefined;
  }

  // --- transitions -------------------------------------------------------------------------------
  /** A payment the db applied: less owed, matched to the open promise; nothing owed resolves. */
  paymentApplied(payment: PaymentReceived, applied: PaymentApplied, now: number) {
    this.state.outstandingMinor = applied.outstandingMinor;
    if (applied.applied) {
      this.record('payment', paymentSummary(payment.paymentId, applied), now, `payment:${payment.paymentId}`);
      this.notices.push({ template: 'payment-receipt', key: `payment:${payment.paymentId}:receipt`, kind: 'transactional', payment });
      this.matchPayment(payment.amountMinor, now);
    }
    // Held invoices are still owed: the plan waits for their disputes rather than resolving.
    if (applied.outstandingMinor <= 0 && !this.isClosed() && !this.onlyHeldRemain()) this.close('resolved', 'paid in full', now);
  }

  /**
   * The steps still ahead whose time differs under the calendar a payment answered (anchored on
   * the earliest invoice still open). Steps already run keep their place: none is run twice.
   */
  scheduleMoves(schedule: PaymentSchedule | undefined): Array<{ step: StepState; scheduledFor: string }> {
    if (!schedule || this.isClosed()) return [];
    const times = new Map(schedule.steps.map((s) => [s.key, s.scheduledFor]));
    return this.state.steps.flatMap((step) => {
      const scheduledFor = times.get(step.key);
      const open = (openStepStatuses as readonly string[]).includes(step.status);
      return open && scheduledFor !== undefined && scheduledFor !== step.scheduledFor ? [{ step, scheduledFor }] : [];
    });
  }

  /** Moves the steps ahead to the calendar of what is still owed, and says so on the timeline. */
  reanchor(dueOn: string, moves: Array<{ step: StepState; scheduledFor: string }>, now: number) {
    for (const { step, scheduledFor } of moves) {
      step.scheduledFor = scheduledFor;
      // A send-window delay was worked out for the old time; the step is checked again at the new one.
      if (step.notBefore !== undefined) {
        step.notBefore = undefined;
        step.reason = undefined;
      }
    }
    const when = moves.map(({ step, scheduledFor }) => `${words(step.key)} on ${utcMinute(scheduledFor)}`).join(', ');
    this.record('rescheduled', `Steps ahead follow the earliest invoice still open, due ${dueOn}: ${when}`, now);
  }

  /** A rep escalates: a task of its own, numbered after every task the plan has. */
  escalateByRep(reason: string, now: number, by?: string): string {
    // Past the task count too, so ids match the ones plans got before the counter existed.
    this.repEscalationSeq = Math.max(this.repEscalationSeq, this.state.tasks.length) + 1;
    const taskId = `${this.planId}:rep_escalation:${this.repEscalationSeq}`;
    this.escalate('rep_escalation', taskId, reason, now);
    this.record('escalated', `Escalated by ${by ?? 'a rep'}: ${reason}`, now);
    return taskId;
  }

  /** Holds the plan; with `until` (checked by `refusal`) it resumes by itself then. */
  pause(reason: string, now: number, { until, summary, by }: { until?: string; summary?: string; by?: string } = {}) {
    if (!this.state.paused) this.statusBeforePause = this.state.status;
    const ends = until === undefined ? undefined : iso(Date.parse(until));
    this.state.paused = { reason, since: iso(now), ...(ends && { until: ends }) };
    this.state.status = 'on_hold';
    this.record('paused', summary ?? `Paused${by ? ` by ${by}` : ''}: ${reason}` + (ends ? ` (until ${utcMinute(ends)})` : ''), now);
  }

  /** When a pause with an end date ends (none for a pause a rep ends). */
  pauseEnds(): number | undefined {
    const until = this.state.paused?.until;
    return until === undefined ? undefined : Date.parse(until);
  }

  /** A rep resumes, or the pause reaches its end date: the same return, told apart on the timeline. */
  resume(now: number, { automatic = false, by }: { automatic?: boolean; by?: string } = {}) {
    const until = this.state.paused?.until;
    this.state.paused = undefined;
    this.state.status = this.statusBeforePause ?? 'in_progress';
    this.statusBeforePause = undefined;
    this.record('resumed', automatic && until ? `Resumed automatically at the end of the pause (${utcMinute(until)})` : `Resumed${by ? ` by ${by}` : ''}`, now);
  }

  /** Closes an open task; its outcome may write the plan off or pause it for a dispute. The note and who closed it go on the timeline. */
  completeTask(taskId: string, outcome: string, now: number, { note, by }: { note?: string; by?: string } = {}) {
    const task = this.state.tasks.find((t) => t.id === taskId);
    if (!task || task.status !== 'open') return;
    task.status = 'done';
    task.outcome = outcome;
    this.record('task_closed', `Task ${task.id} done: ${outcome}${note ? ` (${note})` : ''}${by ? `, by ${by}` : ''}`, now, `task-closed:${task.id}`);
    if (outcome === 'write_off') this.close('written_off', `written off by ${by ?? 'rep'} (task ${task.id})`, now);
    else if (outcome === 'dispute' && !this.state.paused) this.pause('dispute', now, { summary: `Paused: dispute (task ${task.id})` });
  }

  cancel(reason: string, now: number, by?: string) {
    this.close('cancelled', by ? `${reason} (by ${by})` : reason, now);
  }

  /** Records an accepted promise (the rules were checked by `promiseRefusal`); it holds the reminders. */
  makePromise(request: RecordPromiseInput, now: number): PromiseState {
    const items = requestedItems(request)!;
    this.promiseSeq = Math.max(this.promiseSeq, this.state.promises.length) + 1;
    const promise: PromiseState = {
      id: `${this.planId}:promise:${this.promiseSeq}`,
      amountMinor: items.reduce((sum, i) => sum + i.amountMinor, 0),
      dueOn: iso(Date.parse(items[items.length - 1]!.dueAt)),
      status: 'open',
      rep: request.rep,
      createdAt: iso(now),
      paidMinor: 0,
      items: items.map((i, n) => ({ seq: n + 1, amountMinor: i.amountMinor, dueOn: iso(Date.parse(i.dueAt)), status: 'open' })),
    };
    this.state.promises.push(promise);
    this.statusBeforePromise = this.state.status;
    this.state.status = 'promised';
    this.record(
      'promise_made',
      `Promise ${promise.id}: ${this.money(promise.amountMinor)} by ${utcMinute(promise.dueOn)}` +
        (promise.items.length > 1 ? ` in ${promise.items.length} installments` : '') +
        (promise.rep ? `, recorded by ${promise.rep}` : ''),
      now,
      `promise:${promise.id}`,
    );
    this.notices.push({ template: 'promise-confirmation', key: `${this.promiseKey(promise)}:confirmation`, kind: 'transactional', promise });
    return promise;
  }

  /** At an installment's date + grace: paid up to it → kept so far; otherwise the promise is broken. */
  checkInstallment(seq: number, now: number) {
    const promise = this.openPromise();
    const item = promise?.items.find((i) => i.seq === seq);
    if (!promise || !item) return;
    const due = promise.items.filter((i) => i.seq <= seq).reduce((sum, i) => sum + i.amountMinor, 0);
    if (promise.paidMinor >= due) {
      item.status = 'kept';
      if (promise.items.every((i) => i.status === 'kept')) this.settlePromise(promise, 'kept', 'paid on time', now);
      return;
    }
    item.status = 'broken';
    const money = (minor: number) => this.money(minor);
    this.settlePromise(promise, 'broken', `installment ${seq} of ${money(item.amountMinor)} not paid (paid ${money(promise.paidMinor)} of ${money(due)} due)`, now);
  }

  // --- step outcomes -----------------------------------------------------------------------------
  startStep(step: StepState, now: number) {
    this.setStep(step, 'in_progress', now);
  }

  /** A task step: the rep's call, due now. */
  taskStepDone(step: StepState, now: number) {
    this.escalate('manual_escalation', `${this.planId}:${step.key}`, `Step "${step.key}": call the customer`, now);
    this.setStep(step, 'completed', now, 'escalation task created');
    this.record('step', `Step ${step.key}: escalation task created`, now, `step:${step.key}`);
  }

  // --- invoice holds (a dispute over one invoice) ------------------------------------------------
  heldInvoice(invoiceNumber: string): HeldInvoice | undefined {
    return this.state.heldInvoices?.find((h) => h.invoiceNumber === invoiceNumber);
  }

  /** The invoice leaves what is owed (the db's item is disputed now); the others go on being collected. */
  holdInvoice(work: Extract<Work, { kind: 'holdInvoice' }>, owed: { outstandingMinor: number; amountMinor: number }, now: number) {
    const held: HeldInvoice = { invoiceNumber: work.invoiceNumber, reason: work.reason, since: iso(now), amountMinor: owed.amountMinor, ...(work.until && { until: work.until }) };
    this.state.heldInvoices = [...(this.state.heldInvoices ?? []), held];
    this.state.outstandingMinor = owed.outstandingMinor;
    const until = work.until ? ` until ${isoMinute(work.until)}` : '';
    this.record('invoice_held', `Invoice ${work.invoiceNumber} held${until}: ${work.reason}${work.by ? ` (by ${work.by})` : ''}; the others are still collected`, now, `invoice_held:${work.invoiceNumber}:${iso(now)}`);
  }

  /** The invoice is collected again: back in what is owed, the emails and the promise limits. */
  releaseInvoice(invoiceNumber: string, owed: { outstandingMinor: number }, now: number, { automatic = false, by }: { automatic?: boolean; by?: string } = {}) {
    this.state.heldInvoices = (this.state.heldInvoices ?? []).filter((h) => h.invoiceNumber !== invoiceNumber);
    this.state.outstandingMinor = owed.outstandingMinor;
    const how = automatic ? 'at the end of its hold' : by ? `by ${by}` : 'by a rep';
    this.record('invoice_released', `Invoice ${invoiceNumber} released ${how}: collected again`, now, `invoice_released:${invoiceNumber}:${iso(now)}`);
    // Paid while it was held, and nothing else owed: the plan is done.
    if (owed.outstandingMinor <= 0 && !this.onlyHeldRemain() && !this.isClosed()) this.close('resolved', 'paid in full', now);
  }

  /** The earliest end of an invoice hold, when one has an end date. */
  nextHoldEnd(): { at: number; invoiceNumber: string } | undefined {
    let next: { at: number; invoiceNumber: string } | undefined;
    for (const h of this.state.heldInvoices ?? []) {
      const at = h.until ? Date.parse(h.until) : undefined;
      if (at !== undefined && (!next || at < next.at)) next = { at, invoiceNumber: h.invoiceNumber };
    }
    return next;
  }

  /** Nothing owed but held invoices: no reminder has anything to ask for until a hold ends. */
  onlyHeldRemain(): boolean {
    return this.state.outstandingMinor <= 0 && (this.state.heldInvoices?.length ?? 0) > 0;
  }

  /** The policy's last step ends dunning: the plan closes with its action's status, and its event goes out. */
  endActionDone(step: StepState, action: EndAction, now: number) {
    this.setStep(step, 'completed', now, words(action));
    this.close(endActions[action], `the policy's last step, ${step.key} (${words(action)})`, now);
  }

  /** The provider refused the step's email for good: the step failed, a rep takes over. */
  stepEmailRejected(step: StepState, message: string, now: number) {
    this.setStep(step, 'failed', now, message);
    this.record('email_failed', `Step ${step.key}: ${message}`, now, `step:${step.key}`);
    this.escalate('email_failed', `${this.planId}:email_failed:${step.key}`, `Email for step "${step.key}" failed: ${message}`, now);
  }

  /** What the step's email activity found at the moment of sending. */
  stepEmailed(step: StepState, sent: StepEmailResult, now: number) {
    switch (sent.outcome) {
      case 'sent':
        this.setStep(step, 'completed', now, `email sent to ${sent.to}`);
        if (sent.fee) this.record('fee', `Step ${step.key}: late fee of ${sent.fee.display} added to what is owed`, now, `fee:${step.key}`);
        this.record('email_sent', `Step ${step.key}: "${sent.subject}" sent to ${sent.to}`, now, `step:${step.key}`);
        break;
      case 'outside_window':
        step.notBefore = sent.retryAt;
        this.setStep(step, 'waiting', now, `outside the send window; waits until ${sent.retryAt}`);
        break;
      case 'capped': {
        // Like the send window: the step waits for the first moment the cap allows, and says so.
        const reason = `contact cap reached (${sent.cap.max} emails per ${sent.cap.per}); waits until ${sent.retryAt}`;
        step.notBefore = sent.retryAt;
        this.setStep(step, 'waiting', now, reason);
        this.record('email_capped', `Step ${step.key}: ${reason}`, now, `capped:${step.key}:${sent.retryAt}`);
        break;
      }
      case 'nothing_owed':
        this.state.outstandingMinor = 0;
        this.setStep(step, 'skipped', now, 'nothing owed');
        this.close('resolved', 'nothing owed', now);
        break;
      case 'opted_out':
        this.setStep(step, 'skipped', now, 'contact opted out of email');
        this.record('email_skipped', `Step ${step.key}: skipped, contact opted out of email`, now, `step:${step.key}`);
        this.escalate('opted_out', `${this.planId}:opted_out`, 'Contact opted out of email: reach them another way', now);
        break;
      case 'no_contact':
        this.setStep(step, 'skipped', now, 'no contact email on the account');
        this.record('email_skipped', `Step ${step.key}: skipped, no contact email`, now, `step:${step.key}`);
        this.escalate('no_contact', `${this.planId}:no_contact`, 'No contact email on the account', now);
        break;
    }
    if (sent.outstandingMinor !== undefined) this.state.outstandingMinor = sent.outstandingMinor;
  }

  /** What a receipt or promise notice's send came to, on the timeline. */
  noticeSent(notice: Notice, result: { sent: StepEmailResult } | { rejected: string }, now: number) {
    const label = noticeLabel(notice);
    if ('rejected' in result) this.record('email_failed', `${label}: ${result.rejected}`, now, `email:${notice.key}`);
    else if (result.sent.outcome === 'sent') this.record('email_sent', `${label}: "${result.sent.subject}" sent to ${result.sent.to}`, now, `email:${notice.key}`);
    else this.record('email_skipped', `${label}: not sent (${result.sent.outcome.replace('_', ' ')})`, now, `email:${notice.key}`);
  }

  /** Before a save: a pending step whose time is ahead shows as waiting (saves a write of its own). */
  markNextStepWaiting(now: number) {
    const step = this.nextStep();
    if (step?.status === 'pending' && now < Date.parse(step.notBefore ?? step.scheduledFor)) this.setStep(step, 'waiting', now);
  }

  /** Waiting before the step's time; written before the loop sleeps. */
  stepWaiting(step: StepState, now: number) {
    this.setStep(step, 'waiting', now);
  }

  /** The next action's time for ops (none while closed or paused). */
  refreshNextAction(): StepState | undefined {
    const next = nextOpenStep(this.state.steps);
    this.state.nextActionAt = this.isClosed() || this.state.paused || !next ? undefined : (next.notBefore ?? next.scheduledFor);
    return next;
  }

  // --- what the loop takes away to write or send ---------------------------------------------------
  hasEvents(): boolean {
    return this.events.length > 0;
  }

  takeEvents(): TimelineEvent[] {
    const batch = this.events;
    this.events = [];
    return batch;
  }

  takeNotices(): Notice[] {
    const batch = this.notices;
    this.notices = [];
    return batch;
  }

  /** The step table for the Temporal UI's current details. */
  describe(): string {
    const { state } = this;
    const rows = state.steps.map((s) => `| ${s.key} | ${s.action} | ${s.status} | ${isoMinute(s.notBefore ?? s.scheduledFor)} | ${s.reason ?? ''} |`);
    return [
      `**${state.status}** · ${this.money(state.outstandingMinor)} owed` +
        (state.paused ? ` · paused: ${state.paused.reason}` + (state.paused.until ? ` until ${utcMinute(state.paused.until)}` : '') : ''),
      '',
      '| step | action | status | scheduled (UTC) | reason |',
      '|---|---|---|---|---|',
      ...rows,
      ...(state.tasks.length ? ['', `Tasks: ${state.tasks.map((t) => `${t.id} (${t.status})`).join(', ')}`] : []),
    ].join('\n');
  }

  // --- inside the rules ------------------------------------------------------------------------
  private money(minor: number): string {
    return formatMinor(minor, this.state.currency, this.state.currencyDigits);
  }

  /** "promise:2" from "<planId>:promise:2", for message keys that already carry the plan id. */
  private promiseKey(p: PromiseState): string {
    return p.id.slice(this.planId.length + 1);
  }

  /** Appends to the timeline; `key` makes the db write idempotent, `seq` keeps the order. */
  private record(kind: string, summary: string, now: number, key?: string) {
    const seq = ++this.timelineSeq;
    this.events.push({ key: key ?? `${kind}:${seq}`, seq, kind, summary, at: iso(now) });
  }

  private setStep(step: StepState, status: StepState['status'], now: number, reason?: string) {
    step.status = status;
    step.reason = reason;
    if (finishedStepStatuses.includes(status)) step.completedAt = iso(now);
  }

  /** A status the plan moves to; while on hold it is where resume returns to. */
  private moveTo(status: PlanStatus) {
    if (this.state.paused) this.statusBeforePause = status;
    else this.state.status = status;
  }

  private openTask(task: Omit<TaskState, 'status'>, now: number) {
    // Task ids of steps are natural keys: a step that runs again opens no second task.
    if (this.state.tasks.some((t) => t.id === task.id)) return;
    this.state.tasks.push({ ...task, status: 'open' });
    this.record('task_created', `Task ${task.id} (${task.kind}): ${task.reason}`, now, `task:${task.id}`);
  }

  private escalate(kind: TaskState['kind'], taskId: string, reason: string, now: number) {
    this.openTask({ id: taskId, kind, reason }, now);
    if (!this.isClosed()) this.moveTo('escalated');
  }

  private settlePromise(promise: PromiseState, status: 'kept' | 'broken', reason: string, now: number) {
    promise.status = status;
    for (const item of promise.items) if (item.status === 'open') item.status = status === 'kept' ? 'kept' : 'cancelled';
    this.record(`promise_${status}`, `Promise ${promise.id}: ${reason}`, now, `promise-${status}:${promise.id}`);
    if (this.isClosed()) return;
    const before = this.statusBeforePromise ?? 'in_progress';
    this.statusBeforePromise = undefined;
    if (status === 'kept') {
      this.moveTo(before);
    } else {
      this.escalate('promise_broken', `${promise.id}:broken`, `Promise broken: ${reason}`, now);
      this.notices.push({ template: 'promise-broken', key: `${this.promiseKey(promise)}:broken`, kind: 'dunning', promise });
    }
  }

  /** Matches a payment to the open promise: each installment kept once paid up to it. */
  private matchPayment(amountMinor: number, now: number) {
    const promise = this.openPromise();
    if (!promise) return;
    promise.paidMinor += amountMinor;
    let cumulative = 0;
    for (const item of promise.items) {
      cumulative += item.amountMinor;
      if (item.status === 'open' && promise.paidMinor >= cumulative) item.status = 'kept';
    }
    if (promise.paidMinor >= promise.amountMinor) this.settlePromise(promise, 'kept', 'paid in full', now);
  }

  /** Ends the journey: open steps skipped (paid) or cancelled, tasks cancelled, promises settled. */
  private close(status: PlanStatus, reason: string, now: number) {
    for (const step of this.state.steps) {
      if (openStepStatuses.includes(step.status)) {
        if (status === 'resolved') this.setStep(step, 'skipped', now, 'nothing owed');
        else this.setStep(step, 'cancelled', now, reason);
      }
    }
    for (const task of this.state.tasks) if (task.status === 'open') Object.assign(task, { status: 'cancelled', outcome: `plan ${status}` });
    for (const promise of this.state.promises) {
      if (promise.status !== 'open') continue;
      promise.status = status === 'resolved' ? 'kept' : 'cancelled';
      for (const item of promise.items) if (item.status === 'open') item.status = promise.status;
    }
    this.state.status = status;
    this.state.closedReason = reason;
    this.state.paused = undefined;
    this.record(status, closedSummary(status, reason), now, status);
  }
}

/** "payment receipt" from "payment-receipt": how a notice is named on the timeline. */
export const noticeLabel = (notice: Notice): string => notice.template.replace(/-/g, ' ');

function requireText(field: string, value: unknown): ApplicationFailure | undefined {
  return typeof value !== 'string' || value.trim() === '' ? refusal('InvalidArgument', `${field} is required.`) : undefined;
}

/** Why a pause's or an invoice hold's end date is refused: it must be an instant still ahead. */
function endDateRefusal(until: unknown, now: number, what: 'pause' | 'hold' = 'pause'): ApplicationFailure | undefined {
  if (until === undefined) return undefined;
  const at = typeof until === 'string' ? Date.parse(until) : NaN;
  if (Number.isNaN(at)) return refusal('InvalidArgument', `The ${what} end date must be a date-time, like 2026-12-15T17:00:00Z.`);
  return at > now ? undefined : refusal('InvalidArgument', `The ${what} end date must be in the future.`);
}

/** The schedule a request describes: installments, or one item for a plain promise. */
function requestedItems(request: RecordPromiseInput): Array<{ amountMinor: number; dueAt: string }> | undefined {
  if (request.installments && request.installments.length > 0) return request.installments;
  if (request.amountMinor === undefined || request.dueAt === undefined) return undefined;
  return [{ amountMinor: request.amountMinor, dueAt: request.dueAt }];
}
