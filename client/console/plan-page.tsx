// The rep console's plan page: everything about one account's plan, and the forms a rep acts
// with. A refused form comes back with the plan's own sentence beside it and what was typed.
import type { Child } from 'hono/jsx';
import { isClosedStatus } from '../../workflows/domain/statuses';
import { summaryRule, type PlanDetail } from '../plan-detail';
import { calendarDate, money, timeIn, words } from './format';
import { Layout, type SignedInAs } from './pages';

/** The form a refusal belongs to, with what the rep typed in it. */
export interface FormEcho {
  form: string;
  values: Record<string, string>;
  installments?: Array<{ date: string; amount: string }>;
  refusal?: string;
}

export const taskOutcomes = [
  ['contacted', 'Contacted the customer'],
  ['promise', 'Promise to pay (record it below)'],
  ['dispute', 'Dispute: pause the plan'],
  ['write_off', 'Write off: close the plan'],
  ['other', 'Other (say what in the note)'],
] as const;

/** Rows the installments form starts with, and how many it takes at most. */
export const INSTALLMENT_ROWS = 2;
export const MAX_INSTALLMENT_ROWS = 24;

interface FormProps {
  plan: PlanDetail;
  signedInAs: SignedInAs;
  echo?: FormEcho;
}

/** A form posting to one of the plan's actions, with the session's CSRF token and its refusal, if any. */
function ActionForm(props: FormProps & { name: string; action: string; legend: string; children: Child }) {
  const refused = props.echo?.form === props.name ? props.echo.refusal : undefined;
  const id = `${props.name}-form`;
  return (
    <form id={id} method="post" action={props.action} class="action" aria-describedby={refused ? `${id}-refusal` : undefined}>
      <fieldset>
        <legend>{props.legend}</legend>
        <input type="hidden" name="csrf" value={props.signedInAs.csrfToken} />
        {props.children}
        {refused && (
          <p id={`${id}-refusal`} class="refusal" role="alert">
            {refused}
          </p>
        )}
      </fieldset>
    </form>
  );
}

/** A labelled field that keeps what the rep typed when the form comes back refused. */
function Field(props: FormProps & { form: string; name: string; label: string; type?: string; required?: boolean; hint?: string; first?: boolean }) {
  const echoed = props.echo?.form === props.form ? props.echo : undefined;
  const id = `${props.form}-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.hint && <small id={`${id}-hint`}>{props.hint}</small>}
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        value={echoed?.values[props.name] ?? ''}
        required={props.required}
        autofocus={Boolean(echoed?.refusal && props.first)}
        aria-invalid={echoed?.refusal && props.first ? 'true' : undefined}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
      />
    </div>
  );
}

function PromiseForms(props: FormProps) {
  const { plan, echo } = props;
  const base = `/plans/${encodeURIComponent(plan.planId)}`;
  const rows = echo?.form === 'installments' && echo.installments?.length ? echo.installments : Array.from({ length: INSTALLMENT_ROWS }, () => ({ date: '', amount: '' }));
  const refusedRows = echo?.form === 'installments' && echo.refusal;
  return (
    <>
      <ActionForm {...props} name="promise" action={`${base}/promise`} legend="Record a promise to pay">
        <Field {...props} form="promise" name="amount" label={`Amount (${plan.currency})`} required first hint={`e.g. ${money(12_500, plan)} as 125`} />
        <Field {...props} form="promise" name="date" label="Pay by" type="date" required />
        <button type="submit">Record promise</button>
      </ActionForm>
      <ActionForm {...props} name="installments" action={`${base}/promise`} legend="Record installments (a payment plan)">
        <input type="hidden" name="kind" value="installments" />
        <table>
          <caption class="visually-hidden">Installments, one per row</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Pay by</th>
              <th scope="col">Amount ({plan.currency})</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row, i) => (
              <tr>
                <td>{i + 1}</td>
                <td>
                  <label class="visually-hidden" for={`installment-date-${i + 1}`}>
                    Installment {i + 1} pay by
                  </label>
                  <input id={`installment-date-${i + 1}`} name="installmentDate" type="date" value={row.date} autofocus={Boolean(refusedRows && i === 0)} />
                </td>
                <td>
                  <label class="visually-hidden" for={`installment-amount-${i + 1}`}>
                    Installment {i + 1} amount
                  </label>
                  <input id={`installment-amount-${i + 1}`} name="installmentAmount" value={row.amount} inputmode="decimal" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {/* The first button is the one Enter presses: recording, not adding a row. */}
        <button type="submit" name="intent" value="record">
          Record installments
        </button>{' '}
        <button type="submit" name="intent" value="add-row" formnovalidate>
          Add an installment
        </button>{' '}
        {rows.length > 1 && (
          <button type="submit" name="intent" value="remove-row" formnovalidate>
            Remove the last
          </button>
        )}
      </ActionForm>
    </>
  );
}

/** The forms the page shows for the plan as it is now (a paused plan offers resume, not pause). */
function formsFor(plan: PlanDetail): string[] {
  if (isClosedStatus(plan.status)) return [];
  const tasks = plan.tasks.filter((t) => t.status === 'open').map((t) => `task-${t.id}`);
  const invoiceForms = [...(plan.invoices.some((i) => i.status === 'open' && i.openMinor > 0) ? ['hold'] : []), ...(plan.invoices.some((i) => i.status === 'disputed') ? ['release'] : [])];
  return [...(plan.status === 'on_hold' ? ['resume'] : ['promise', 'installments', 'pause']), ...invoiceForms, 'escalate', 'cancel', ...tasks];
}

function Actions(props: FormProps) {
  const { plan } = props;
  const base = `/plans/${encodeURIComponent(plan.planId)}`;
  const paused = plan.status === 'on_hold';
  return (
    <div class="actions">
      {paused ? (
        <ActionForm {...props} name="resume" action={`${base}/resume`} legend="Resume">
          <p>Steps that fell due while the plan was paused run now, in order.</p>
          <button type="submit">Resume the plan</button>
        </ActionForm>
      ) : (
        <>
          <PromiseForms {...props} />
          <ActionForm {...props} name="pause" action={`${base}/pause`} legend="Pause (e.g. a dispute)">
            <Field {...props} form="pause" name="reason" label="Reason" required first />
            <Field {...props} form="pause" name="until" label="Pause until (optional)" type="date" hint="The plan resumes by itself when that day ends on the account's calendar." />
            <button type="submit">Pause the plan</button>
          </ActionForm>
        </>
      )}
      <InvoiceHoldForms {...props} />
      <ActionForm {...props} name="escalate" action={`${base}/escalate`} legend="Escalate">
        <Field {...props} form="escalate" name="reason" label="Reason" required first />
        <button type="submit">Escalate</button>
      </ActionForm>
      <ActionForm {...props} name="cancel" action={`${base}/cancel`} legend="Cancel the plan">
        <Field {...props} form="cancel" name="reason" label="Reason" required first />
        <button type="submit">Cancel the plan</button>
      </ActionForm>
    </div>
  );
}

/** A select of invoice numbers, the echoed choice kept after a refusal. */
function InvoiceSelect(props: FormProps & { form: string; numbers: string[] }) {
  const echoed = props.echo?.form === props.form ? props.echo : undefined;
  const id = `${props.form}-invoiceNumber`;
  return (
    <div class="field">
      <label for={id}>Invoice</label>
      <select id={id} name="invoiceNumber" autofocus={Boolean(echoed?.refusal)}>
        {props.numbers.map((n) => (
          <option value={n} selected={echoed?.values.invoiceNumber === n}>
            {n}
          </option>
        ))}
      </select>
    </div>
  );
}

/** One disputed invoice out of dunning while the others are collected, and back again. */
function InvoiceHoldForms(props: FormProps) {
  const { plan } = props;
  const base = `/plans/${encodeURIComponent(plan.planId)}`;
  const open = plan.invoices.filter((i) => i.status === 'open' && i.openMinor > 0).map((i) => i.number);
  const held = plan.invoices.filter((i) => i.status === 'disputed').map((i) => i.number);
  return (
    <>
      {open.length > 0 && (
        <ActionForm {...props} name="hold" action={`${base}/hold`} legend="Hold one invoice (a dispute)">
          <InvoiceSelect {...props} form="hold" numbers={open} />
          <Field {...props} form="hold" name="reason" label="Reason" required />
          <Field {...props} form="hold" name="until" label="Hold until (optional)" type="date" hint="The invoice is collected again by itself when that day ends on the account's calendar." />
          <button type="submit">Hold the invoice</button>
        </ActionForm>
      )}
      {held.length > 0 && (
        <ActionForm {...props} name="release" action={`${base}/release`} legend="Release a held invoice">
          <InvoiceSelect {...props} form="release" numbers={held} />
          <button type="submit">Release the invoice</button>
        </ActionForm>
      )}
    </>
  );
}

function TaskForm(props: FormProps & { taskId: string }) {
  const name = `task-${props.taskId}`;
  const echoed = props.echo?.form === name ? props.echo : undefined;
  const ids = { outcome: `${name}-outcome`, note: `${name}-note` };
  return (
    <ActionForm {...props} name={name} action={`/plans/${encodeURIComponent(props.plan.planId)}/tasks/${encodeURIComponent(props.taskId)}/complete`} legend="Close this task">
      <div class="field">
        <label for={ids.outcome}>Outcome</label>
        <select id={ids.outcome} name="outcome" autofocus={Boolean(echoed?.refusal)}>
          {taskOutcomes.map(([value, label]) => (
            <option value={value} selected={echoed?.values.outcome === value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for={ids.note}>Note</label>
        <input id={ids.note} name="note" value={echoed?.values.note ?? ''} />
      </div>
      <button type="submit">Close task</button>
    </ActionForm>
  );
}

export function PlanPage(props: { plan: PlanDetail; signedInAs: SignedInAs; echo?: FormEcho; notice?: string; temporalUrl?: string }) {
  const { plan, signedInAs } = props;
  const zone = signedInAs.timeZone;
  const at = (iso: string | null) => (iso ? <time datetime={iso}>{timeIn(iso, plan, zone)}</time> : '—');
  const form = { plan, signedInAs, echo: props.echo };
  const open = !isClosedStatus(plan.status);
  // Why and until when a paused plan is held: the journey's own words, its latest pause entry.
  const pausedBy = plan.status === 'on_hold' ? [...plan.timeline].reverse().find((e) => e.kind === 'paused') : undefined;
  // A refusal for a form the plan no longer offers (it closed or was resumed meanwhile) goes on top.
  const orphanRefusal = props.echo?.refusal && !formsFor(plan).includes(props.echo.form) ? props.echo.refusal : undefined;
  return (
    <Layout title={`${plan.accountName} (${plan.accountId})`} signedInAs={signedInAs}>
      <p>
        <a href="/">Back to the worklist</a>
      </p>
      {orphanRefusal && (
        <p id="refusal" class="refusal" role="alert">
          {orphanRefusal}
        </p>
      )}
      {props.notice && (
        <p id="notice" class="notice" role="status">
          {props.notice}
        </p>
      )}
      <dl class="facts">
        <dt>Plan</dt>
        <dd>{plan.planId}</dd>
        <dt>Status</dt>
        <dd id="plan-status">{words(plan.status)}</dd>
        {pausedBy && (
          <>
            <dt>Pause</dt>
            <dd id="plan-pause">{pausedBy.summary}</dd>
          </>
        )}
        <dt>Owed</dt>
        <dd>{money(plan.outstandingMinor, plan)}</dd>
        <dt>Policy</dt>
        <dd>{plan.policy ?? 'not started'}</dd>
        <dt>Next action</dt>
        <dd>{at(plan.nextActionAt)}</dd>
        <dt>Workflow</dt>
        <dd>
          {props.temporalUrl ? (
            <a href={props.temporalUrl} target="_blank" rel="noopener">
              {plan.workflowId} in the Temporal UI
            </a>
          ) : (
            plan.workflowId
          )}
        </dd>
      </dl>

      <h2>Collections summary</h2>
      <dl class="facts" aria-describedby="summary-rule">
        <dt>Initially due</dt>
        <dd>{money(plan.summary.initiallyDueMinor, plan)}</dd>
        <dt>Now due</dt>
        <dd>{money(plan.summary.nowDueMinor, plan)}</dd>
        <dt>Paid</dt>
        <dd>{money(plan.summary.paidMinor, plan)}</dd>
        <dt>Promises kept / broken</dt>
        <dd>
          {plan.summary.promisesKept} / {plan.summary.promisesBroken}
        </dd>
        <dt>Average days past due</dt>
        <dd>{plan.summary.averageDaysPastDue}</dd>
      </dl>
      <p id="summary-rule">
        <small>{summaryRule}</small>
      </p>

      <h2>Actions</h2>
      {open ? <Actions {...form} /> : <p>This plan is {words(plan.status)}: nothing more can be done on it.</p>}

      <h2>Account and contacts</h2>
      <p>
        {plan.accountName} ({plan.accountId}) · {plan.currency} · {plan.locale} · {plan.timeZone}
      </p>
      {plan.contacts.length === 0 ? (
        <p>No contacts: reminders cannot be sent; a rep has to reach the customer.</p>
      ) : (
        <table>
          <caption class="visually-hidden">Contacts</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Email consent</th>
            </tr>
          </thead>
          <tbody>
            {plan.contacts.map((c) => (
              <tr>
                <td>
                  {c.name}
                  {c.primary && <small> (primary)</small>}
                </td>
                <td>{c.email}</td>
                <td>
                  {words(c.consent)}
                  {c.consentChangedAt && <small> since {at(c.consentChangedAt)}</small>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Invoices</h2>
      <table>
        <caption class="visually-hidden">Invoices of this plan, oldest due first</caption>
        <thead>
          <tr>
            <th scope="col">Number</th>
            <th scope="col">Due</th>
            <th scope="col">Days overdue</th>
            <th scope="col">Amount</th>
            <th scope="col">Open</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {plan.invoices.map((i) => (
            <tr data-invoice={i.number}>
              <td>{i.number}</td>
              <td>{calendarDate(i.dueOn, plan)}</td>
              <td class="num">{i.daysOverdue}</td>
              <td class="num">{money(i.amountMinor, plan)}</td>
              <td class="num">{money(i.openMinor, plan)}</td>
              <td>{words(i.status)}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Tasks</h2>
      {plan.tasks.length === 0 ? (
        <p>No tasks.</p>
      ) : (
        <ul class="tasks">
          {plan.tasks.map((t) => (
            <li data-task={t.id}>
              <strong>{words(t.kind)}</strong> ({t.status}): {t.reason}
              {t.outcome ? ` — ${t.outcome}` : ''}
              {t.status === 'open' && open && <TaskForm {...form} taskId={t.id} />}
            </li>
          ))}
        </ul>
      )}

      <h2>Promises</h2>
      {plan.promises.length === 0 ? (
        <p>No promises yet.</p>
      ) : (
        <table>
          <caption class="visually-hidden">Promises to pay</caption>
          <thead>
            <tr>
              <th scope="col">Promise</th>
              <th scope="col">Amount</th>
              <th scope="col">Paid</th>
              <th scope="col">Due</th>
              <th scope="col">Status</th>
              <th scope="col">Installments</th>
            </tr>
          </thead>
          <tbody>
            {plan.promises.map((p) => (
              <tr data-promise={p.id}>
                <td>
                  {p.id}
                  {p.rep && <small> by {p.rep}</small>}
                </td>
                <td class="num">{money(p.amountMinor, plan)}</td>
                <td class="num">{money(p.paidMinor, plan)}</td>
                <td>{at(p.dueOn)}</td>
                <td>{words(p.status)}</td>
                <td>
                  {p.schedule.length === 0 ? (
                    '—'
                  ) : (
                    <ol>
                      {p.schedule.map((i) => (
                        <li>
                          {money(i.amountMinor, plan)} by {at(i.dueOn)} ({words(i.status)})
                        </li>
                      ))}
                    </ol>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Orchestration steps</h2>
      <table>
        <caption class="visually-hidden">The policy's steps for this plan</caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Action</th>
            <th scope="col">Status</th>
            <th scope="col">Scheduled for</th>
            <th scope="col">Done at</th>
            <th scope="col">Note</th>
          </tr>
        </thead>
        <tbody>
          {plan.steps.map((s) => (
            <tr data-step={s.key}>
              <td>{s.key}</td>
              <td>{words(s.action)}</td>
              <td>{words(s.status)}</td>
              <td>{at(s.scheduledFor)}</td>
              <td>{at(s.completedAt)}</td>
              <td>{s.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Timeline</h2>
      {plan.timeline.length === 0 ? (
        <p>Nothing has happened yet.</p>
      ) : (
        <ol id="timeline" class="timeline">
          {plan.timeline.map((e) => (
            <li data-kind={e.kind}>
              {at(e.at)} {e.summary}
            </li>
          ))}
        </ol>
      )}
    </Layout>
  );
}
