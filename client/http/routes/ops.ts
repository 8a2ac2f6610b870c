// What ops manage over HTTP: policies, segmentation rules, the reports on how well dunning works, and the forecast.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { forecast } from '../../forecast';
import { mailEmailsPerSecond } from '../../../worker/config';
import { listPolicies, setPolicy } from '../../policies';
import { runReport } from '../../reports';
import { listSegmentationRules, setSegmentationRules } from '../../segments';
import { allow, type ApiEnv } from '../auth';
import { DunningError } from '../../errors';
import { problemResponses } from '../problems';
import { json, security } from '../route-parts';
import {
  ForecastQuery,
  ForecastSchema,
  NoQuery,
  PolicyParams,
  PolicyVersionSchema,
  ReportParams,
  ReportQuery,
  ReportSchema,
  SegmentationRulesVersionSchema,
} from '../schemas';

const ops = allow('ops');

export function opsRoutes(app: OpenAPIHono<ApiEnv>) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/policies',
      tags: ['ops'],
      summary: 'Policies with their current version',
      security,
      middleware: [ops] as const,
      request: { query: NoQuery },
      responses: { 200: json(z.object({ data: z.array(PolicyVersionSchema) }), 'The policies'), ...problemResponses(401, 403, 422, 429) },
    }),
    async (c) => c.json({ data: await listPolicies(c.var.ctx) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/policies/{name}',
      tags: ['ops'],
      summary: 'Create or replace a policy (running plans keep the version they started with)',
      security,
      middleware: [ops] as const,
      request: {
        query: NoQuery,
        params: PolicyParams,
        body: { required: true, content: { 'application/json': { schema: z.record(z.string(), z.unknown()).openapi('PolicyRequest', { description: 'A policy as `dunning policy set` reads it' }) } } },
      },
      responses: { 200: json(PolicyVersionSchema, 'The policy saved'), ...problemResponses(400, 401, 403, 413, 415, 422, 429) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      if (body.name !== undefined && body.name !== name) throw new DunningError(`The policy's name "${String(body.name)}" differs from "${name}" in the path.`, 'invalid');
      return c.json(await setPolicy(c.var.ctx, { policy: { ...body, name } }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/segments',
      tags: ['ops'],
      summary: 'Segmentation rules, every version, newest (the one in force) first',
      security,
      middleware: [ops] as const,
      request: { query: NoQuery },
      responses: { 200: json(z.object({ data: z.array(SegmentationRulesVersionSchema) }), 'The versions'), ...problemResponses(401, 403, 422, 429) },
    }),
    async (c) => c.json({ data: await listSegmentationRules(c.var.ctx) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/segments',
      tags: ['ops'],
      summary: 'Set the segmentation rules that pick the policy of a plan initiated without one (a new version; plans keep the version that picked theirs)',
      security,
      middleware: [ops] as const,
      request: {
        query: NoQuery,
        body: {
          required: true,
          content: {
            'application/json': {
              schema: z.record(z.string(), z.unknown()).openapi('SegmentationRulesRequest', {
                description: 'The rules as `dunning segments set` reads them: `{"rules": [{"name", "when"?, "policy"}, …]}`, the last one the default without `when`',
              }),
            },
          },
        },
      },
      responses: { 200: json(SegmentationRulesVersionSchema, 'The version written'), ...problemResponses(400, 401, 403, 413, 415, 422, 429) },
    }),
    async (c) => c.json(await setSegmentationRules(c.var.ctx, { rules: c.req.valid('json') }), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/reports/{name}',
      tags: ['ops'],
      summary: 'A report: aging (open amount by days past due, per currency), promises (by rep), recovery (by policy version and initiation week) or steps (which step worked, by last touch)',
      security,
      middleware: [ops] as const,
      request: { query: ReportQuery, params: ReportParams },
      responses: { 200: json(ReportSchema, 'The report'), ...problemResponses(401, 403, 404, 422, 429) },
    }),
    async (c) => c.json(await runReport(c.var.ctx, { ...c.req.valid('query'), name: c.req.valid('param').name }), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/forecast',
      tags: ['ops'],
      summary: "Emails and tasks the open plans' steps make per UTC day ahead, and the mail queue's drain time on the busiest day",
      security,
      middleware: [ops] as const,
      request: { query: ForecastQuery },
      responses: { 200: json(ForecastSchema, 'The forecast'), ...problemResponses(401, 403, 404, 422, 429) },
    }),
    async (c) => c.json(await forecast(c.var.ctx, { ...c.req.valid('query'), ratePerSecond: mailEmailsPerSecond(c.var.ctx.config.mail) }), 200),
  );
}
