// Plans as billing systems and everyone else reach them: create, import, initiate, pay, cancel,
// list and read. Handlers parse, authorise, call the service and serialise; nothing more.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { CreatePlanInputSchema, createPlan } from '../../create-plan';
import { initiateDunning, cancel, reportPayment } from '../../dunning';
import { fieldRules, importCsv } from '../../import';
import { previewPlan } from '../../preview';
import { listPlans, planStatus } from '../../status';
import { allow, type ApiEnv } from '../auth';
import { idempotent } from '../idempotency';
import { csvBody } from '../csv-body';
import { problemResponses } from '../problems';
import { json, jsonBody, security } from '../route-parts';
import {
  ImportResultSchema,
  InitiateBodySchema,
  InitiatedSchema,
  PaymentBodySchema,
  PaymentReportSchema,
  PlanIdParams,
  PlanListSchema,
  PickedBySchema,
  PlanStateSchema,
  PlanStatusSchema,
  PlanViewSchema,
  NoQuery,
  PreviewSchema,
  ReasonBodySchema,
  TaskKindSchema,
  id,
} from '../schemas';

const everyone = allow('billing', 'rep', 'ops');
const billing = allow('billing', 'ops');
const limitRule = 'limit must be a whole number from 1 to 200';

const CreatedPlanSchema = PlanViewSchema.extend({
  created: z.boolean().openapi({ description: 'False when the account already had an open plan, which took the new invoices.' }),
  initiated: z.object({ workflowId: z.string(), alreadyRunning: z.boolean(), policy: z.string(), pickedBy: PickedBySchema.optional() }).optional(),
}).openapi('CreatedPlan');

/**
 * The service's schema, named for the document. zod 4 copies methods onto a schema when it is
 * made, so one made before @hono/zod-openapi extended zod (whenever client/create-plan is
 * imported first) has no `.openapi` of its own: the extension's is called on it.
 */
const CreatePlanRequestSchema = (z.ZodType.prototype.openapi as (this: z.ZodType, refId: string) => typeof CreatePlanInputSchema).call(
  CreatePlanInputSchema,
  'CreatePlanRequest',
);

export function planRoutes(app: OpenAPIHono<ApiEnv>) {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans',
      tags: ['plans'],
      summary: 'Create an account with its contacts and invoices (and optionally start its journey), in one call',
      security,
      middleware: [billing, idempotent] as const,
      request: { query: NoQuery, body: jsonBody(CreatePlanRequestSchema) },
      responses: { 201: json(CreatedPlanSchema, 'The plan, as GET /v1/plans/{planId} gives it'), ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503) },
    }),
    async (c) => c.json(await createPlan(c.var.ctx, c.req.valid('json')), 201),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/imports',
      tags: ['plans'],
      summary: 'Import accounts, contacts and invoices from a CSV (the `dunning import` format); one bad row writes nothing',
      security,
      middleware: [billing, idempotent] as const,
      request: { query: NoQuery, body: { required: true, content: { 'text/csv': { schema: z.string().openapi({ example: 'account_id,account_name,…' }) } } } },
      responses: { 201: json(ImportResultSchema, 'What the import wrote'), ...problemResponses(401, 403, 409, 413, 415, 422, 429) },
    }),
    async (c) => c.json(await importCsv(c.var.ctx, { source: csvBody(c) }), 201),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/plans',
      tags: ['plans'],
      summary: 'Plans, newest first, a page at a time',
      security,
      middleware: [everyone] as const,
      request: {
        query: z.strictObject({
          status: PlanStatusSchema.optional(),
          accountId: fieldRules.id('accountId').optional(),
          taskKind: TaskKindSchema.optional().openapi({ description: 'Plans with an open task of this kind' }),
          limit: z.coerce.number(limitRule).int(limitRule).min(1, limitRule).max(200, limitRule).optional(),
          cursor: z.string().max(1000, 'cursor is longer than 1000 characters').optional(),
        }),
      },
      responses: { 200: json(PlanListSchema, 'A page of plans'), ...problemResponses(401, 403, 422, 429) },
    }),
    async (c) => c.json(await listPlans(c.var.ctx, c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/plans/{planId}',
      tags: ['plans'],
      summary: 'A plan: steps, amounts, promises, tasks and timeline (what `dunning status --json` prints)',
      security,
      middleware: [everyone] as const,
      request: { query: NoQuery, params: PlanIdParams },
      responses: { 200: json(PlanViewSchema, 'The plan'), ...problemResponses(401, 403, 404, 422, 429) },
    }),
    async (c) => c.json(await planStatus(c.var.ctx, c.req.valid('param')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/plans/{planId}/preview',
      tags: ['plans'],
      summary: "The calendar of a plan's steps under a policy (the one named, else the segmentation rules' pick, and why), without starting anything",
      security,
      middleware: [everyone] as const,
      request: { params: PlanIdParams, query: z.strictObject({ policy: id('policy', 'standard').optional().openapi({ param: { name: 'policy', in: 'query' } }) }) },
      responses: { 200: json(PreviewSchema, 'The calendar'), ...problemResponses(401, 403, 404, 422, 429) },
    }),
    async (c) => c.json(await previewPlan(c.var.ctx, { planId: c.req.valid('param').planId, policyName: c.req.valid('query').policy }), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans/{planId}/initiate',
      tags: ['plans'],
      summary: "Start the plan's journey, or find the one already running (never a second one)",
      security,
      middleware: [billing, idempotent] as const,
      request: { query: NoQuery, params: PlanIdParams, body: jsonBody(InitiateBodySchema) },
      responses: { 200: json(InitiatedSchema, 'The journey'), ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503) },
    }),
    async (c) => {
      const { planId } = c.req.valid('param');
      const started = await initiateDunning(c.var.ctx, { planId, policyName: c.req.valid('json').policy });
      return c.json({ planId, ...started }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans/{planId}/payments',
      tags: ['plans'],
      summary: 'Report a payment (idempotent by paymentId); nothing owed any more resolves the plan',
      security,
      middleware: [billing, idempotent] as const,
      request: { query: NoQuery, params: PlanIdParams, body: jsonBody(PaymentBodySchema) },
      responses: { 202: json(PaymentReportSchema, 'Accepted: the journey applies it'), ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503) },
    }),
    async (c) => c.json(await reportPayment(c.var.ctx, { ...c.req.valid('param'), ...c.req.valid('json') }), 202),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans/{planId}/cancel',
      tags: ['plans'],
      summary: 'End the journey cleanly: steps cancelled, tasks closed',
      security,
      middleware: [everyone, idempotent] as const,
      request: { query: NoQuery, params: PlanIdParams, body: jsonBody(ReasonBodySchema) },
      responses: { 200: json(PlanStateSchema, "The journey's state"), ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503) },
    }),
    async (c) => c.json(await cancel(c.var.ctx, { ...c.req.valid('param'), ...c.req.valid('json'), by: c.var.caller.name }), 200),
  );
}
