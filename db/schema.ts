// The drizzle schema for the whole domain. Money is integer minor units; statuses are CHECKed
// lists; natural keys are unique so every write can be an idempotent upsert.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import {
  closedPlanStatuses,
  emailConsents,
  emailKinds,
  emailProviders,
  emailStatuses,
  invoiceKinds,
  invoiceStatuses,
  planItemStatuses,
  planStatuses,
  promiseItemStatuses,
  promiseStatuses,
  stepActions,
  stepStatuses,
  taskKinds,
  taskStatuses,
} from '../workflows/domain/statuses';
import { planEventTypes } from './plan-events';

const money = (name: string) => bigint(name, { mode: 'number' });
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const createdAt = () => ts('created_at').notNull().defaultNow();
const oneOf = (column: string, values: readonly string[]) => sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(', ')})`);

/** Customer accounts, keyed by the billing system's account id. */
export const accounts = pgTable(
  'accounts',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    timezone: text('timezone').notNull(),
    currency: text('currency').notNull(),
    locale: text('locale').notNull().default('en-US'),
    /** The billing system's label for the account ("enterprise", "smb"): segmentation rules match it. */
    segment: text('segment'),
    /** The billing system's risk score, 0 (safe) to 100: segmentation rules match it. */
    riskScore: integer('risk_score'),
    createdAt: createdAt(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('accounts_currency_iso', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check('accounts_risk_score_range', sql`${t.riskScore} between 0 and 100`),
  ],
);

/** People we write to; consent is per contact and checked again at every send. */
export const contacts = pgTable(
  'contacts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    email: text('email').notNull(),
    emailConsent: text('email_consent', { enum: emailConsents }).notNull().default('opted_in'),
    consentChangedAt: ts('consent_changed_at'),
    isPrimary: boolean('is_primary').notNull().default(true),
  },
  (t) => [
    uniqueIndex('contacts_account_email').on(t.accountId, t.email),
    check('contacts_email_consent', oneOf('email_consent', emailConsents)),
  ],
);

/** Invoices; the number is unique per account so importing a file twice changes nothing. */
export const invoices = pgTable(
  'invoices',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    number: text('number').notNull(),
    amountMinor: money('amount_minor').notNull(),
    openMinor: money('open_minor').notNull(),
    currency: text('currency').notNull(),
    issuedOn: date('issued_on', { mode: 'string' }).notNull(),
    dueOn: date('due_on', { mode: 'string' }).notNull(),
    status: text('status', { enum: invoiceStatuses }).notNull().default('open'),
    kind: text('kind', { enum: invoiceKinds }).notNull().default('invoice'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('invoices_account_number').on(t.accountId, t.number),
    check('invoices_amount_nonneg', sql`${t.amountMinor} >= 0`),
    check('invoices_open_range', sql`${t.openMinor} >= 0 and ${t.openMinor} <= ${t.amountMinor}`),
    check('invoices_due_after_issue', sql`${t.dueOn} >= ${t.issuedOn}`),
    check('invoices_status', oneOf('status', invoiceStatuses)),
    check('invoices_kind', oneOf('kind', invoiceKinds)),
  ],
);

/** Policies by name; a plan stores the snapshot it started with (see collection_plans). */
export const dunningPolicies = pgTable('dunning_policies', {
  name: text('name').primaryKey(),
  definition: jsonb('definition').notNull(),
  version: integer('version').notNull().default(1),
  createdAt: createdAt(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/**
 * Segmentation rules, every version kept (db/segmentation.ts): the newest picks the policy of a
 * plan initiated without one, and a plan records the version and rule that picked its policy.
 */
export const segmentationRules = pgTable('segmentation_rules', {
  version: integer('version').primaryKey(),
  definition: jsonb('definition').notNull(),
  createdAt: createdAt(),
});

/** One collection plan per account's unpaid invoices; one workflow per plan. */
export const collectionPlans = pgTable(
  'collection_plans',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    policyName: text('policy_name').references(() => dunningPolicies.name),
    /**
     * The send window (HH:MM) of the policy snapshot the plan runs (plan_policy_snapshots),
     * written with it: the forecast places every open plan's emails without reading snapshots.
     */
    sendWindowFrom: text('send_window_from'),
    sendWindowTo: text('send_window_to'),
    /** The policy's version when the plan was initiated (reports tell versions apart; see setPolicy). */
    policyVersion: integer('policy_version'),
    /** The segmentation rules version and rule that picked the policy; null when the policy was named (or no rules were set). */
    segmentationRulesVersion: integer('segmentation_rules_version').references(() => segmentationRules.version),
    segmentationRule: text('segmentation_rule'),
    status: text('status', { enum: planStatuses }).notNull().default('not_started'),
    currency: text('currency').notNull(),
    workflowId: text('workflow_id').unique(),
    initiatedAt: ts('initiated_at'),
    /** The workflow time of the journey's last write (syncPlan): an earlier one arriving late is not applied. */
    syncedAt: ts('synced_at'),
    closedAt: ts('closed_at'),
    createdAt: createdAt(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('collection_plans_status', oneOf('status', planStatuses)),
    // An account has at most one open plan: new invoices join it instead of a second journey.
    uniqueIndex('collection_plans_one_open_per_account')
      .on(t.accountId)
      .where(sql.raw(`status not in (${closedPlanStatuses.map((s) => `'${s}'`).join(', ')})`)),
    index('collection_plans_status').on(t.status),
    // Keyset paging for GET /v1/plans: newest first (id breaks ties); alone or within a status or an account.
    index('collection_plans_page').on(t.createdAt.desc(), t.id.desc()),
    index('collection_plans_status_page').on(t.status, t.createdAt.desc(), t.id.desc()),
    index('collection_plans_account_page').on(t.accountId, t.createdAt.desc(), t.id.desc()),
    // A plan's page position by its id, read from the index alone: GET /v1/plans?taskKind= of a
    // scarce kind starts from the open tasks and sorts their plans without reading plan rows.
    index('collection_plans_id_created').on(t.id, t.createdAt),
  ],
);

/** The invoices a plan collects. A per-item hold keeps one disputed invoice from silencing the rest. */
export const collectionPlanItems = pgTable(
  'collection_plan_items',
  {
    planId: text('plan_id')
      .notNull()
      .references(() => collectionPlans.id, { onDelete: 'cascade' }),
    invoiceId: uuid('invoice_id')
      .notNull()
      .references(() => invoices.id),
    status: text('status', { enum: planItemStatuses }).notNull().default('open'),
    onHoldUntil: date('on_hold_until', { mode: 'string' }),
    holdReason: text('hold_reason'),
  },
  (t) => [
    primaryKey({ columns: [t.planId, t.invoiceId] }),
    check('collection_plan_items_status', oneOf('status', planItemStatuses)),
    // A changed invoice finds the plans it is open on (the worklist's triggers, foreign-key checks).
    index('collection_plan_items_invoice').on(t.invoiceId),
  ],
);

/** The orchestration plan: one row per policy step, as the workflow last saw it. */
export const orchestrationSteps = pgTable(
  'orchestration_steps',
  {
    planId: text('plan_id')
      .notNull()
      .references(() => collectionPlans.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    ordinal: integer('ordinal').notNull(),
    action: text('action', { enum: stepActions }).notNull(),
    status: text('status', { enum: stepStatuses }).notNull(),
    scheduledFor: ts('scheduled_for'),
    completedAt: ts('completed_at'),
    reason: text('reason'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.planId, t.key] }),
    check('orchestration_steps_action', oneOf('action', stepActions)),
    check('orchestration_steps_status', oneOf('status', stepStatuses)),
    // The forecast (client/forecast.ts): the steps still to run, by time, read from the index
    // alone. Partial, so it holds only the open plans' steps ahead while finished ones pile up.
    index('orchestration_steps_open_by_time')
      .on(t.scheduledFor, t.planId, t.action)
      .where(sql`status in ('pending', 'waiting', 'in_progress')`),
  ],
);

/** Promises to pay recorded by reps. */
export const paymentPromises = pgTable(
  'payment_promises',
  {
    id: text('id').primaryKey(),
    planId: text('plan_id')
      .notNull()
      .references(() => collectionPlans.id, { onDelete: 'cascade' }),
    amountMinor: money('amount_minor').notNull(),
    dueOn: ts('due_on').notNull(),
    status: text('status', { enum: promiseStatuses }).notNull().default('open'),
    /** Payments received since the promise was made, matched to it. */
    paidMinor: money('paid_minor').notNull().default(0),
    rep: text('rep'),
    createdAt: createdAt(),
    resolvedAt: ts('resolved_at'),
  },
  (t) => [
    check('payment_promises_amount_pos', sql`${t.amountMinor} > 0`),
    check('payment_promises_status', oneOf('status', promiseStatuses)),
    index('payment_promises_plan').on(t.planId),
  ],
);

/** A promise paid in installments (a hardship plan). */
export const paymentSchedules = pgTable(
  'payment_schedules',
  {
    id: text('id').primaryKey(),
    promiseId: text('promise_id')
      .notNull()
      .unique()
      .references(() => paymentPromises.id, { onDelete: 'cascade' }),
    planId: text('plan_id')
      .notNull()
      .references(() => collectionPlans.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  // The plan view reads a plan's schedules by plan; without this it scans every schedule.
  (t) => [index('payment_schedules_plan').on(t.planId)],
);

export const paymentScheduleItems = pgTable(
  'payment_schedule_items',
  {
    scheduleId: text('schedule_id')
      .notNull()
      .references(() => paymentSchedules.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    amountMinor: money('amount_minor').notNull(),
    dueOn: ts('due_on').notNull(),
    status: text('status', { enum: promiseItemStatuses }).notNull().default('open'),
  },
  (t) => [
    primaryKey({ columns: [t.scheduleId, t.seq] }),
    check('payment_schedule_items_amount_pos', sql`${t.amountMinor} > 0`),
    check('payment_schedule_items_status', oneOf('status', promiseItemStatuses)),
  ],
);

/**
 * The policy each initiated plan runs, as it was at initiation: its journey's calendar is
 * computed from it. Kept apart from the plan row, which every list and report scans: the
 * snapshot is read once per journey wake-up, and inline it made the plans table six times wider.
 */
export const planPolicySnapshots = pgTable('plan_policy_snapshots', {
  planId: text('plan_id')
    .primaryKey()
    .references(() => collectionPlans.id, { onDelete: 'cascade' }),
  policy: jsonb('policy').notNull(),
});

/** Payments keyed by the billing system's payment id: a repeated report is a no-op. */
export const payments = pgTable(
  'payments',
  {
    id: text('id').primaryKey(),
    planId: text('plan_id')
      .notNull()
      .references(() => collectionPlans.id, { onDelete: 'cascade' }),
    invoiceId: uuid('invoice_id').references(() => invoices.id),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
    /**
     * The plan's last step completed at or before the payment was received (null: none yet),
     * the step the steps report credits it to. Kept by triggers on payments and steps
     * (migration 0008), never written by the code.
     */
    afterStep: text('after_step'),
    createdAt: createdAt(),
  },
  (t) => [check('payments_amount_pos', sql`${t.amountMinor} > 0`), index('payments_plan').on(t.planId)],
);

/** Tasks for collections reps; ids are deterministic so a retried create is one task. */
export const tasks = pgTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    planId: text('plan_id')
      .notNull()
      .references(() => collectionPlans.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: taskKinds }).notNull(),
    status: text('status', { enum: taskStatuses }).notNull().default('open'),
    reason: text('reason').notNull(),
    outcome: text('outcome'),
    createdAt: createdAt(),
    closedAt: ts('closed_at'),
  },
  (t) => [
    check('tasks_kind', oneOf('kind', taskKinds)),
    check('tasks_status', oneOf('status', taskStatuses)),
    index('tasks_plan').on(t.planId),
    // Open tasks by kind (GET /v1/plans?taskKind=): closed tasks pile up forever, open ones stay
    // as many as reps have work, so the filter never reads the closed ones.
    index('tasks_open_kind')
      .on(t.kind, t.planId)
      .where(sql`status = 'open'`),
  ],
);

/**
 * The worklist's priority inputs, one row per plan with an open task (client/worklist.ts reads
 * it instead of aggregating tasks, items and invoices for every candidate). Written only by the
 * triggers of migration 0005 on tasks, collection_plan_items, invoices, collection_plans and
 * accounts, which recompute a changed plan's row in the writer's transaction: no writer can
 * forget it, and none may write it. Days past due depend on today, so they are counted at read
 * time from `earliest_due_on` on the account's calendar (`time_zone`).
 */
export const worklistEntries = pgTable(
  'worklist_entries',
  {
    planId: text('plan_id')
      .primaryKey()
      .references(() => collectionPlans.id, { onDelete: 'cascade' }),
    accountId: text('account_id').notNull(),
    /** The account's name, for the search. */
    accountName: text('account_name').notNull(),
    status: text('status', { enum: planStatuses }).notNull(),
    currency: text('currency').notNull(),
    /** The account's IANA time zone: whose today the days past due are counted in. */
    timeZone: text('time_zone').notNull(),
    /** The kinds of the plan's open tasks, sorted, each once; never empty. */
    taskKinds: text('task_kinds').array().notNull(),
    brokenPromise: boolean('broken_promise').notNull(),
    /** Sum of open_minor over the plan's open items. */
    owedMinor: money('owed_minor').notNull(),
    /** Earliest due date of an open item with something still open on it; null when nothing is. */
    earliestDueOn: date('earliest_due_on', { mode: 'string' }),
  },
  (t) => [
    // The search (any part of the name or id, any case) through trigram indexes (pg_trgm), not a
    // scan of every candidate.
    index('worklist_entries_account_name_trgm').using('gin', sql`${t.accountName} gin_trgm_ops`),
    index('worklist_entries_account_id_trgm').using('gin', sql`${t.accountId} gin_trgm_ops`),
    // The distinct time zones, one index probe each: "today" is computed once per zone.
    index('worklist_entries_time_zone').on(t.timeZone),
    // The two orders the page is read in (client/worklist.ts, candidatePage): a plan's priority
    // is owed × days past due, and an unread plan owes no more than the last read by amount and
    // is no older than the last read by due date.
    index('worklist_entries_by_owed').on(t.brokenPromise.desc(), t.owedMinor.desc()),
    index('worklist_entries_by_due').on(t.brokenPromise.desc(), t.earliestDueOn.asc().nullsLast()),
    // Queue counts: one partial index per kind, counted from the index alone, under a status or
    // currency filter too. A new task kind gets its index from the next generated migration.
    ...taskKinds.map((kind) =>
      index(`worklist_entries_queue_${kind}`)
        .on(t.status, t.currency)
        .where(sql.raw(`'${kind}' = any(task_kinds)`)),
    ),
  ],
);

/** What happened and when; event_key makes a retried append a no-op. */
export const timelineEvents = pgTable(
  'timeline_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    planId: text('plan_id')
      .notNull()
      .references(() => collectionPlans.id, { onDelete: 'cascade' }),
    eventKey: text('event_key').notNull(),
    /** Order within the plan, from the workflow (several events can share one instant). */
    seq: integer('seq').notNull(),
    at: ts('at').notNull(),
    kind: text('kind').notNull(),
    summary: text('summary').notNull(),
    data: jsonb('data'),
  },
  (t) => [uniqueIndex('timeline_events_plan_key').on(t.planId, t.eventKey), index('timeline_events_plan_seq').on(t.planId, t.seq)],
);

/**
 * A plan handed to a collection agency by its policy's last step: what was owed, invoice by
 * invoice, at the hand-off. Written with the plan's close (one per plan), for the agency export.
 */
export const agencyHandoffs = pgTable('agency_handoffs', {
  planId: text('plan_id')
    .primaryKey()
    .references(() => collectionPlans.id, { onDelete: 'cascade' }),
  accountId: text('account_id').notNull(),
  currency: text('currency').notNull(),
  owedMinor: money('owed_minor').notNull(),
  /** [{ number, kind, dueOn, openMinor }] of the invoices still open. */
  items: jsonb('items').notNull(),
  handedOffAt: ts('handed_off_at').notNull(),
});

/**
 * One provider request carrying several messages (Resend's batch endpoint), recorded before it
 * is made: a retry re-sends exactly these members under this key, so the provider answers the
 * first result instead of sending again.
 */
export const emailBatches = pgTable('email_batches', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** SHA-256 of the members' idempotency keys, sorted: the request's Idempotency-Key. */
  idempotencyKey: text('idempotency_key').notNull().unique(),
  createdAt: createdAt(),
  sentAt: ts('sent_at'),
});

/**
 * The next moment a request may go to a mail provider, one row per provider account: every
 * process takes its slot here, so the provider's rate holds across a cluster of workers.
 */
export const mailRateSlots = pgTable('mail_rate_slots', {
  /** The provider account the limit belongs to (e.g. "resend:<key fingerprint>"). */
  provider: text('provider').primaryKey(),
  nextAt: ts('next_at').notNull(),
});

/** Every email: the send ledger. One row per plan + step, so a step can never send twice. */
export const emailMessages = pgTable(
  'email_messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    planId: text('plan_id')
      .notNull()
      .references(() => collectionPlans.id, { onDelete: 'cascade' }),
    stepKey: text('step_key').notNull(),
    idempotencyKey: text('idempotency_key').notNull().unique(),
    toAddress: text('to_address').notNull(),
    subject: text('subject').notNull(),
    template: text('template').notNull(),
    provider: text('provider', { enum: emailProviders }).notNull(),
    providerMessageId: text('provider_message_id'),
    status: text('status', { enum: emailStatuses }).notNull().default('queued'),
    kind: text('kind', { enum: emailKinds }).notNull().default('dunning'),
    emlPath: text('eml_path'),
    error: text('error'),
    /** The provider request that carries the message, once recorded (batch sending only). */
    batchId: uuid('batch_id').references(() => emailBatches.id),
    /** The rendered message, kept only while its batch is unsent so a retry re-sends the same bytes. */
    payload: jsonb('payload'),
    createdAt: createdAt(),
    sentAt: ts('sent_at'),
  },
  (t) => [
    check('email_messages_provider', oneOf('provider', emailProviders)),
    check('email_messages_status', oneOf('status', emailStatuses)),
    index('email_messages_plan').on(t.planId),
    check('email_messages_kind', oneOf('kind', emailKinds)),
    // Contact caps count a recipient's dunning messages over a rolling window, across plans (by address, any case).
    index('email_messages_contact_cap').on(sql`lower(${t.toAddress})`, t.createdAt).where(sql`kind = 'dunning'`),
    // A retry finds its batch's members; sent batches drop their payloads, and out of the index.
    index('email_messages_unsent_batch').on(t.batchId).where(sql`payload is not null`),
  ],
);

export const apiKeyRoles = ['billing', 'rep', 'ops'] as const;
export type ApiKeyRole = (typeof apiKeyRoles)[number];

/** API keys: only a hash of the secret is kept; the key itself is shown once, at creation. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    role: text('role', { enum: apiKeyRoles }).notNull(),
    /** SHA-256 of the secret part, hex; compared in constant time. */
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    revokedAt: ts('revoked_at'),
    lastUsedAt: ts('last_used_at'),
  },
  (t) => [check('api_keys_role', oneOf('role', apiKeyRoles)), index('api_keys_created').on(t.createdAt)],
);

/**
 * The first response to each Idempotency-Key, per API key: a retry with the same body gets it
 * again, another body is refused. A row without a response is a request still in flight.
 */
export const idempotentRequests = pgTable(
  'idempotent_requests',
  {
    apiKeyId: text('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    /** Method and path, e.g. "POST /v1/plans/plan-A/payments". */
    route: text('route').notNull(),
    /** SHA-256 of the request body, hex. */
    bodyHash: text('body_hash').notNull(),
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    responseType: text('response_type'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotent_requests_created').on(t.createdAt)],
);

/**
 * Rep console sign-ins: the browser holds a random session id, the row only its SHA-256, so a
 * copy of this table signs nobody in. The key is checked again on every request (a revoked key's
 * session ends at once); forms carry `csrf_token`.
 */
export const consoleSessions = pgTable(
  'console_sessions',
  {
    /** SHA-256 of the cookie's session id, hex. */
    idHash: text('id_hash').primaryKey(),
    apiKeyId: text('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    csrfToken: text('csrf_token').notNull(),
    /** The rep's IANA time zone, chosen at sign-in: the console writes times in it. */
    timeZone: text('time_zone').notNull().default('UTC'),
    createdAt: createdAt(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [index('console_sessions_expires').on(t.expiresAt)],
);

/**
 * Plan events for systems outside (the catalogue in plan-events.ts), written by a trigger on the
 * timeline in the transaction of the change (migration 0009). `position` orders delivery: each
 * endpoint gets a plan's events in the order they happened.
 */
export const planEvents = pgTable(
  'plan_events',
  {
    position: bigserial('position', { mode: 'number' }).primaryKey(),
    /** `evt_` and the timeline entry's id: the `webhook-id` of every attempt. */
    id: text('id').notNull().unique(),
    type: text('type', { enum: planEventTypes }).notNull(),
    planId: text('plan_id')
      .notNull()
      .references(() => collectionPlans.id, { onDelete: 'cascade' }),
    occurredAt: ts('occurred_at').notNull(),
    /** The body as sent (PlanEventBody). */
    body: jsonb('body').notNull(),
  },
  (t) => [
    index('plan_events_plan').on(t.planId, t.position),
    // Retention prunes by age, and `redeliver --since` reads by it.
    index('plan_events_occurred').on(t.occurredAt),
    check('plan_events_type', oneOf('type', planEventTypes))],
);

export const webhookEndpointStatuses = ['enabled', 'disabled'] as const;

/**
 * Where ops send plan events. The signing secret (`whsec_…`) is shown once and kept encrypted
 * with the key in the environment; after a rotation the previous one signs too, for a day.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    url: text('url').notNull(),
    /** The event types it receives. */
    events: text('events').array().notNull(),
    secretCiphertext: text('secret_ciphertext').notNull(),
    previousSecretCiphertext: text('previous_secret_ciphertext'),
    previousSecretExpiresAt: ts('previous_secret_expires_at'),
    status: text('status', { enum: webhookEndpointStatuses }).notNull().default('enabled'),
    /** Why it was disabled: by whom, or after a day of failed deliveries. */
    disabledReason: text('disabled_reason'),
    createdAt: createdAt(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  () => [check('webhook_endpoints_status', oneOf('status', webhookEndpointStatuses))],
);

export const webhookEndpointEventKinds = ['added', 'disabled', 'enabled', 'secret_rotated'] as const;

/**
 * An endpoint's own timeline: added, disabled (by whom, or by the engine after a day of failed
 * deliveries, with what still waits), enabled, rotated. A trigger on webhook_endpoints writes it
 * (migration 0010), so every door and the delivery workflow alike leave their mark.
 */
export const webhookEndpointEvents = pgTable(
  'webhook_endpoint_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    at: ts('at').notNull().defaultNow(),
    kind: text('kind', { enum: webhookEndpointEventKinds }).notNull(),
    summary: text('summary').notNull(),
  },
  (t) => [index('webhook_endpoint_events_endpoint').on(t.endpointId, t.id), check('webhook_endpoint_events_kind', oneOf('kind', webhookEndpointEventKinds))],
);

export const webhookDeliveryStatuses = ['pending', 'delivered', 'failed'] as const;

/**
 * One event owed to one endpoint, written with the event (a trigger, for every enabled endpoint
 * that takes its type): delivery works through an endpoint's pending rows in event order, so
 * an event committed late is never skipped, as a cursor over positions could skip it.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventPosition: bigint('event_position', { mode: 'number' })
      .notNull()
      .references(() => planEvents.position, { onDelete: 'cascade' }),
    status: text('status', { enum: webhookDeliveryStatuses }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    deliveredAt: ts('delivered_at'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.endpointId, t.eventPosition] }),
    check('webhook_deliveries_status', oneOf('status', webhookDeliveryStatuses)),
    index('webhook_deliveries_pending').on(t.endpointId, t.eventPosition).where(sql`status = 'pending'`),
    // An event's deliveries, found when retention deletes it (the cascade) and when it asks whether one is owed.
    index('webhook_deliveries_event').on(t.eventPosition),
  ],
);

/** Every delivery attempt: its HTTP status (none when the request failed), latency and error. */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: text('event_id').notNull(),
    httpStatus: integer('http_status'),
    latencyMs: integer('latency_ms').notNull(),
    error: text('error'),
    at: ts('at').notNull().defaultNow(),
  },
  (t) => [index('webhook_attempts_endpoint').on(t.endpointId, t.at)],
);
