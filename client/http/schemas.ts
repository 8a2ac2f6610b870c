// The shapes the HTTP API takes and gives, as zod schemas: requests are validated with them and
// the OpenAPI document is generated from them. Objects are strict: an unknown field is refused.
import { z } from '@hono/zod-openapi';
import { planEventTypes } from '../../db/plan-events';
import { apiKeyRoles, webhookEndpointEventKinds, webhookEndpointStatuses } from '../../db/schema';
import { ID_PATTERN } from '../import';
import { planStatuses, taskKinds } from '../../workflows/domain/statuses';

/** Free text a person types (reasons, outcomes, names): bounded, no control characters. */
export const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((v) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v), 'must not contain control characters');

/**
 * The longest id in a path: the longest the engine makes from a 200-character account id
 * (`plan-<account>-<n>:email_failed:<step key>` for a task) still fits.
 */
const PATH_ID_MAX = 300;

/** Ids in paths: what the engine itself makes (letters, digits, - _ . : @ +), never a path. */
export const id = (name: string, example: string) =>
  z
    .string()
    .min(1, `${name} is empty`)
    .max(PATH_ID_MAX, `${name} is longer than ${PATH_ID_MAX} characters`)
    .regex(ID_PATTERN, `${name} may hold letters, digits and - _ . : @ + only`)
    .openapi({ param: { name, in: 'path' }, example });

/** Routes that take no query: an unknown parameter is refused, as on GET /v1/plans. */
export const NoQuery = z.strictObject({});

// The bound comes first: 1e300 is too large before it is anything else.
export const minorUnits = z
  .number()
  .max(Number.MAX_SAFE_INTEGER, 'is too large')
  .int('must be a whole number of minor units')
  .positive('must be more than zero')
  .openapi({ example: 12500, description: 'Integer minor units of the plan currency (cents for USD).' });

export const instant = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with an offset, like 2026-12-15T17:00:00Z' });
export const isoDate = z.iso.date('must be a date like 2026-12-15');

export const PlanIdParams = z.strictObject({ planId: id('planId', 'plan-ACME') });

export const PlanStatusSchema = z.enum(planStatuses).openapi('PlanStatus');
export const TaskKindSchema = z.enum(taskKinds).openapi('TaskKind');

export const PickedBySchema = z
  .object({ rulesVersion: z.number().int(), rule: z.string() })
  .openapi('PickedBy', { description: 'The segmentation rules version and the rule in it that picked the policy' });

const HeldConditionSchema = z
  .object({
    field: z.enum(['currency', 'segment', 'owedMinor', 'riskScore']),
    value: z.union([z.string(), z.number()]).openapi({ description: "The plan's value" }),
    oneOf: z.array(z.string()).optional(),
    gte: z.number().int().optional(),
    lt: z.number().int().optional(),
  })
  .openapi('HeldCondition');

export const PolicyChoiceSchema = z
  .object({
    policy: z.string(),
    by: z.enum(['named', 'no_rules', 'rule']).openapi({ description: 'named: the caller named it; rule: the segmentation rules picked it; no_rules: none are set, so `standard`' }),
    rulesVersion: z.number().int().optional(),
    rule: z.string().optional(),
    held: z.array(HeldConditionSchema).optional().openapi({ description: "The matching rule's conditions, each of which held (none for the default rule)" }),
  })
  .openapi('PolicyChoice');

export const PlanViewSchema = z
  .object({
    planId: z.string(),
    workflowId: z.string(),
    accountId: z.string(),
    accountName: z.string(),
    status: PlanStatusSchema,
    policy: z.string().nullable(),
    pickedBy: PickedBySchema.nullable().openapi({ description: 'The segmentation rule that picked the policy; null when the policy was named or no rules were set.' }),
    segment: z.string().nullable(),
    riskScore: z.number().int().nullable(),
    currency: z.string(),
    locale: z.string(),
    outstandingMinor: z.number().int(),
    nextActionAt: z.string().nullable(),
    steps: z.array(
      z.object({
        key: z.string(),
        action: z.string(),
        status: z.string(),
        scheduledFor: z.string().nullable(),
        completedAt: z.string().nullable(),
        reason: z.string().nullable(),
      }),
    ),
    promises: z.array(
      z.object({
        id: z.string(),
        amountMinor: z.number().int(),
        paidMinor: z.number().int(),
        dueOn: z.string(),
        status: z.string(),
        rep: z.string().nullable(),
        schedule: z.array(z.object({ seq: z.number().int(), amountMinor: z.number().int(), dueOn: z.string(), status: z.string() })),
      }),
    ),
    tasks: z.array(z.object({ id: z.string(), kind: z.string(), status: z.string(), reason: z.string(), outcome: z.string().nullable() })),
    timeline: z.array(z.object({ at: z.string(), kind: z.string(), summary: z.string() })),
  })
  .openapi('Plan');

export const PlanListSchema = z
  .object({
    data: z.array(
      z.object({
        planId: z.string(),
        accountId: z.string(),
        accountName: z.string(),
        status: PlanStatusSchema,
        currency: z.string(),
        locale: z.string(),
        outstandingMinor: z.number().int(),
        nextStep: z.string().nullable(),
        nextActionAt: z.string().nullable(),
        createdAt: z.string(),
      }),
    ),
    nextCursor: z.string().nullable().openapi({ description: 'Pass as `cursor` for the next page; null on the last one.' }),
  })
  .openapi('PlanList');

/** The journey's live state, as an update answers it. */
export const PlanStateSchema = z
  .object({
    planId: z.string(),
    accountId: z.string(),
    status: PlanStatusSchema,
    currency: z.string(),
    locale: z.string(),
    outstandingMinor: z.number().int(),
    steps: z.array(
      z.object({
        key: z.string(),
        ordinal: z.number().int(),
        action: z.string(),
        template: z.string().optional(),
        status: z.string(),
        scheduledFor: z.string(),
        notBefore: z.string().optional(),
        completedAt: z.string().optional(),
        reason: z.string().optional(),
      }),
    ),
    tasks: z.array(z.object({ id: z.string(), kind: z.string(), status: z.string(), reason: z.string(), outcome: z.string().optional() })),
    promises: z.array(
      z.object({
        id: z.string(),
        amountMinor: z.number().int(),
        dueOn: z.string(),
        status: z.string(),
        rep: z.string().optional(),
        createdAt: z.string(),
        paidMinor: z.number().int(),
        items: z.array(z.object({ seq: z.number().int(), amountMinor: z.number().int(), dueOn: z.string(), status: z.string() })),
      }),
    ),
    paused: z
      .object({ reason: z.string(), since: z.string(), until: z.string().optional().openapi({ description: 'When the plan resumes by itself, if the pause has an end date.' }) })
      .optional(),
    heldInvoices: z
      .array(
        z.object({
          invoiceNumber: z.string(),
          reason: z.string(),
          since: z.string(),
          until: z.string().optional().openapi({ description: 'When the invoice is collected again by itself, if the hold has an end date.' }),
          amountMinor: z.number().int().openapi({ description: 'What the invoice still owed when it was held' }),
        }),
      )
      .optional()
      .openapi({ description: 'Invoices held for a dispute: out of what is owed, the emails and the promise limits until released' }),
    nextActionAt: z.string().optional(),
    closedReason: z.string().optional(),
  })
  .openapi('PlanState');

export const PreviewSchema = z
  .object({
    planId: z.string(),
    policy: z.string(),
    choice: PolicyChoiceSchema,
    reason: z.string().openapi({ description: 'The choice in one sentence', example: 'Segmentation rules version 3, rule "big-risky" picked "strict": currency USD is one of USD; owed $6,000.00 is at least $5,000.00.' }),
    timeZone: z.string(),
    dueOn: z.string(),
    currency: z.string(),
    locale: z.string(),
    outstandingMinor: z.number().int(),
    steps: z.array(
      z.object({
        key: z.string(),
        action: z.string(),
        template: z.string().nullable(),
        anchor: z.string(),
        offset: z.string(),
        scheduledFor: z.string(),
        sendAt: z.string(),
      }),
    ),
  })
  .openapi('Preview');

export const InitiateBodySchema = z.strictObject({ policy: id('policy', 'standard').optional() }).openapi('InitiateRequest');
export const InitiatedSchema = z
  .object({ planId: z.string(), workflowId: z.string(), runId: z.string(), alreadyRunning: z.boolean(), policy: z.string(), pickedBy: PickedBySchema.optional() })
  .openapi('Initiated');

export const PaymentBodySchema = z
  .strictObject({
    paymentId: text(200).openapi({ example: 'pay_1QX' }),
    amountMinor: minorUnits,
    invoiceNumber: text(200).optional(),
    receivedAt: instant.optional(),
  })
  .openapi('PaymentRequest');
export const PaymentReportSchema = z
  .object({
    delivered: z.enum(['workflow', 'database']),
    planId: z.string(),
    paymentId: z.string(),
    amountMinor: z.number().int(),
    currency: z.string(),
    locale: z.string(),
  })
  .openapi('PaymentReport');

export const ReasonBodySchema = z.strictObject({ reason: text(500).openapi({ example: 'Customer disputes invoice INV-9' }) }).openapi('ReasonRequest');
export const PauseBodySchema = z
  .strictObject({
    reason: text(500).openapi({ example: 'Customer disputes invoice INV-9' }),
    until: instant.optional().openapi({ description: 'When the pause ends: the plan resumes by itself then (a rep may resume it sooner). Must be in the future.' }),
  })
  .openapi('PauseRequest');
export const HoldInvoiceBodySchema = z
  .strictObject({
    reason: text(500).openapi({ example: 'Customer disputes the delivery on INV-9' }),
    until: instant.optional().openapi({ description: 'When the hold ends: the invoice is collected again then (a rep may release it sooner). Must be in the future.' }),
  })
  .openapi('HoldInvoiceRequest');
export const InvoiceParams = z.strictObject({ planId: id('planId', 'plan-ACME'), invoiceNumber: id('invoiceNumber', 'INV-9') });
export const EmptyBodySchema = z.strictObject({}).openapi('EmptyRequest');

export const PromiseBodySchema = z
  .strictObject({
    amountMinor: minorUnits.optional(),
    dueAt: instant.optional(),
    installments: z
      .array(z.strictObject({ amountMinor: minorUnits, dueAt: instant }))
      .min(1, 'must hold at least one installment')
      .max(24, 'may hold at most 24 installments')
      .optional(),
    rep: text(100).optional().openapi({ description: "Who recorded it; the API key's name when left out." }),
  })
  .refine((b) => (b.installments ? b.dueAt === undefined : b.amountMinor !== undefined && b.dueAt !== undefined), {
    message: 'Give amountMinor and dueAt, or installments (with an optional amountMinor for their total)',
  })
  .openapi('PromiseRequest');
export const PromiseRecordedSchema = z.object({ planId: z.string(), promiseId: z.string(), status: PlanStatusSchema }).openapi('PromiseRecorded');

export const EscalatedSchema = z.object({ planId: z.string(), taskId: z.string() }).openapi('Escalated');
export const TaskParams = z.strictObject({ planId: id('planId', 'plan-ACME'), taskId: id('taskId', 'plan-ACME:first_call') });
export const CompleteTaskBodySchema = z
  .strictObject({ outcome: text(500).openapi({ example: 'promise' }), note: text(500).optional().openapi({ example: 'will pay on Friday' }) })
  .openapi('CompleteTaskRequest');

export const ConsentParams = z.strictObject({ contactId: z.uuid('contactId must be a contact id (a UUID)').openapi({ param: { name: 'contactId', in: 'path' } }) });
export const ConsentBodySchema = z
  .strictObject({ channel: z.literal('email', 'channel must be "email"'), consent: z.enum(['opted_in', 'opted_out'], 'consent must be opted_in or opted_out') })
  .openapi('ConsentRequest');
export const ConsentSchema = z.object({ contactId: z.string(), channel: z.literal('email'), consent: z.enum(['opted_in', 'opted_out']) }).openapi('Consent');

export const PolicyParams = z.strictObject({ name: id('name', 'standard') });
export const PolicyVersionSchema = z.object({ name: z.string(), version: z.number().int(), policy: z.record(z.string(), z.unknown()) }).openapi('PolicyVersion');

export const ImportResultSchema = z
  .object({
    rows: z.number().int(),
    accounts: z.number().int(),
    invoicesAdded: z.number().int(),
    plans: z.array(z.object({ planId: z.string(), accountId: z.string(), created: z.boolean(), items: z.number().int() })),
  })
  .openapi('ImportResult');

export const ApiKeyRoleSchema = z.enum(apiKeyRoles);

export const HealthSchema = z
  .object({ status: z.enum(['ok', 'unavailable']), temporal: z.enum(['ok', 'unreachable']), database: z.enum(['ok', 'unreachable']) })
  .openapi('Health');

export const ReportParams = z.strictObject({
  name: z.string().max(100, 'name is longer than 100 characters').openapi({ param: { name: 'name', in: 'path' }, example: 'aging', description: 'aging, promises, recovery or steps' }),
});
/** Filters as text: the service checks them, so the CLI and the API refuse a bad one in the same words. */
export const ReportQuery = z.strictObject({
  policy: z.string().max(200, 'policy is longer than 200 characters').optional().openapi({ description: 'Plans under this policy (every report)' }),
  currency: z.string().max(10, 'currency is longer than 10 characters').optional().openapi({ description: 'ISO 4217 code (every report)', example: 'USD' }),
  from: z.string().max(10, 'from is longer than 10 characters').optional().openapi({ description: 'First day, UTC (promises: made; recovery: initiated)', example: '2026-11-01' }),
  to: z.string().max(10, 'to is longer than 10 characters').optional().openapi({ description: 'Last day, UTC, inclusive', example: '2026-11-30' }),
});
const ratio = z.number().min(0).nullable();
const policyVersion = z.number().int().nullable().openapi({ description: 'The policy version the plans were initiated under; null for plans from before versions were recorded' });
export const AgingReportSchema = z
  .object({
    report: z.literal('aging'),
    asOf: z.string(),
    rows: z.array(
      z.object({
        currency: z.string(),
        plans: z.number().int(),
        notDueMinor: z.number().int(),
        days1to30Minor: z.number().int(),
        days31to60Minor: z.number().int(),
        days61to90Minor: z.number().int(),
        over90Minor: z.number().int(),
        totalMinor: z.number().int(),
      }),
    ),
  })
  .openapi('AgingReport');
export const PromisesReportSchema = z
  .object({
    report: z.literal('promises'),
    rows: z.array(z.object({ rep: z.string().nullable(), made: z.number().int(), kept: z.number().int(), broken: z.number().int(), pending: z.number().int(), keptRate: ratio })),
  })
  .openapi('PromisesReport');
export const RecoveryReportSchema = z
  .object({
    report: z.literal('recovery'),
    rows: z.array(
      z.object({
        policy: z.string(),
        policyVersion: policyVersion,
        currency: z.string(),
        week: z.string().nullable().openapi({ description: 'Monday (UTC) of the initiation week; null on the row for all weeks' }),
        plans: z.number().int(),
        enteringMinor: z.number().int(),
        recoveredMinor: z.number().int(),
        recoveryRate: ratio,
        resolved: z.number().int(),
        medianDaysToResolve: z.number().nullable(),
        p90DaysToResolve: z.number().nullable(),
      }),
    ),
  })
  .openapi('RecoveryReport');
export const StepsReportSchema = z
  .object({
    report: z.literal('steps'),
    rows: z.array(
      z.object({
        policy: z.string(),
        policyVersion: policyVersion,
        currency: z.string(),
        step: z.string().nullable().openapi({ description: "The step's key; null on the row for payments after initiation, before any step was done" }),
        ordinal: z.number().int().nullable(),
        action: z.enum(['email', 'task']).nullable(),
        reached: z.number().int().openapi({ description: 'Plans that went through the step (on the row before any step: plans initiated)' }),
        plansPaid: z.number().int().openapi({ description: 'Plans that paid after this step and before their next (last touch)' }),
        plansPaidInFull: z.number().int().openapi({ description: 'Of those, plans resolved by a payment in that span' }),
        amountMinor: z.number().int(),
        paidRate: ratio,
      }),
    ),
  })
  .openapi('StepsReport');
export const ReportSchema = z.union([AgingReportSchema, PromisesReportSchema, RecoveryReportSchema, StepsReportSchema]).openapi('Report');

/** As text, like the reports' filters: the service checks them, so the CLI and the API refuse in the same words. */
export const ForecastQuery = z.strictObject({
  days: z.string().max(10, 'days is longer than 10 characters').optional().openapi({ description: 'How many UTC days ahead, today first: 1 to 90 (default 30)', example: '30' }),
  policy: z.string().max(200, 'policy is longer than 200 characters').optional().openapi({ description: 'Plans under this policy' }),
  currency: z.string().max(10, 'currency is longer than 10 characters').optional().openapi({ description: 'Plans in this ISO 4217 currency', example: 'USD' }),
});
const count = z.number().int().min(0);
export const ForecastSchema = z
  .object({
    asOf: z.string().openapi({ description: 'When it was made; the first day is its UTC date' }),
    days: z.array(z.object({ date: z.string().openapi({ description: 'A UTC calendar day', example: '2026-12-01' }), emails: count, tasks: count })),
    totals: z.object({ emails: count, tasks: count }),
    busiestDay: z.object({ date: z.string(), emails: count }).nullable().openapi({ description: 'The day with the most emails (the earliest of equals); null when none is due' }),
    ratePerSecond: z.number().openapi({ description: 'Emails per second the drain time is worked out at (config mail.ratePerSecond requests per second, times mail.batchSize emails per request)' }),
    drainSeconds: z.number().min(0).openapi({ description: "Seconds the busiest day's emails take to send at that rate" }),
    leftOut: z
      .object({ paused: count, promised: count })
      .openapi({ description: 'Open plans not counted: paused, or under an open promise; they send nothing until it ends' }),
  })
  .openapi('Forecast');

// Any text: the service reads the token and refuses it in the sentence the CLI prints.
export const PayLinkQuery = z.strictObject({
  token: z.string().openapi({ description: 'The `token` of a pay link, as the pay page received it', example: 'v1.cGxhbi1BQ01F.130050.EUR.1767258000.Xj…' }),
});
export const VerifiedPayLinkSchema = z
  .object({
    planId: z.string(),
    accountId: z.string(),
    amountMinor: z.number().int().openapi({ description: 'What the email asked for, in minor units (signed into the token)' }),
    currency: z.string().openapi({ example: 'EUR' }),
    expiresAt: z.string().openapi({ description: 'When the link stops working', example: '2026-12-31T09:00:00.000Z' }),
    outstandingMinor: z.number().int().openapi({ description: 'What the plan owes now, after any payment since the email: charge at most this' }),
    status: PlanStatusSchema,
    locale: z.string().openapi({ description: "The account's locale, for writing the amounts" }),
  })
  .openapi('VerifiedPayLink');

export const WebhookParams = z.strictObject({ id: id('id', 'wh_3f9a1c0d2b7e4a65') });
export const WebhookEndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.enum(planEventTypes)),
    status: z.enum(webhookEndpointStatuses),
    disabledReason: z.string().nullable(),
    previousSecretExpiresAt: z.string().nullable().openapi({ description: 'Until when the secret before the last rotation also signs; null when none does' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('WebhookEndpoint');
export const WebhookEndpointWithSecretSchema = WebhookEndpointSchema.extend({
  secret: z.string().nullable().openapi({
    description: 'The signing secret (`whsec_…`), shown only in this answer; null when the answer is replayed for an Idempotency-Key, since it is never kept (rotate for a new one)',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  }),
}).openapi('WebhookEndpointWithSecret');
export const WebhookEndpointDetailSchema = WebhookEndpointSchema.extend({
  waiting: z.number().int().openapi({ description: 'Events owed to it and not yet taken; sent in order while it is enabled' }),
  timeline: z
    .array(z.object({ at: z.string(), kind: z.enum(webhookEndpointEventKinds), summary: z.string() }))
    .openapi({ description: 'What happened to it, oldest first: added, disabled (by whom, or by the engine after a day of failed deliveries), enabled, secret rotated' }),
  attempts: z
    .array(z.object({ at: z.string(), eventId: z.string(), httpStatus: z.number().int().nullable(), latencyMs: z.number().int(), error: z.string().nullable() }))
    .openapi({ description: 'Its latest 20 delivery attempts, newest first' }),
}).openapi('WebhookEndpointDetail');
/** Events as text: the service checks them, so the CLI and the API refuse an unknown type in the same words. */
export const WebhookBodySchema = z
  .strictObject({
    url: z.string().max(2000, 'url is longer than 2000 characters').openapi({ example: 'https://hooks.example.com/dunning' }),
    events: z
      .union([z.string().max(2000, 'events is longer than 2000 characters'), z.array(z.string().max(100, 'an event type is longer than 100 characters')).max(100, 'events has more than 100 entries')])
      .openapi({ description: `Event types (a list, or a comma-separated text), or "all": ${planEventTypes.join(', ')}`, example: ['plan.promise_broken', 'plan.resolved'] }),
  })
  .openapi('WebhookRequest');

export const WebhookRedeliverBodySchema = z
  .strictObject({
    eventId: z.string().max(100, 'eventId is longer than 100 characters').optional().openapi({ description: 'One event to send again (evt_…)', example: 'evt_4f6c1e0a9b2d4c3e8f7a6b5c4d3e2f1a' }),
    since: z.string().max(40, 'since is longer than 40 characters').optional().openapi({ description: 'Send again every event recorded since this date-time that the endpoint takes', example: '2026-11-27T09:00:00Z' }),
  })
  .openapi('WebhookRedeliverRequest');
export const WebhookRedeliveredSchema = z.object({ redelivered: z.number().int().openapi({ description: 'How many events are owed to the endpoint again' }) }).openapi('WebhookRedelivered');
export const WebhookTestSchema = z
  .object({
    eventId: z.string().openapi({ description: 'The test event\'s id (evt_test_…), its webhook-id' }),
    httpStatus: z.number().int().nullable().openapi({ description: 'What the endpoint answered; null when no answer came' }),
    latencyMs: z.number().int(),
    error: z.string().nullable().openapi({ description: 'Why it did not count as taken (not a 2xx, no answer within 10 s, no connection); null when taken' }),
  })
  .openapi('WebhookTest');

export const SegmentationRulesVersionSchema = z
  .object({ version: z.number().int(), createdAt: z.string(), rules: z.record(z.string(), z.unknown()).openapi({ description: 'The rules document as it was set' }) })
  .openapi('SegmentationRulesVersion');
