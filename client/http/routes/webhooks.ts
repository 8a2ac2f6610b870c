// Webhook endpoints over HTTP, for ops keys only: the verbs `dunning webhook` calls. An answer
// that shows a signing secret is kept for its Idempotency-Key without it, so a replay never
// reads a secret back from the database.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { addWebhook, disableWebhook, enableWebhook, listWebhooks, redeliverWebhookEvents, rotateWebhookSecret, showWebhook, testWebhook } from '../../webhooks';
import { allow, type ApiEnv } from '../auth';
import { idempotent, idempotentKeeping } from '../idempotency';
import { problemResponses } from '../problems';
import { json, jsonBody, security } from '../route-parts';
import {
  EmptyBodySchema,
  NoQuery,
  WebhookBodySchema,
  WebhookEndpointDetailSchema,
  WebhookEndpointSchema,
  WebhookEndpointWithSecretSchema,
  WebhookParams,
  WebhookRedeliverBodySchema,
  WebhookRedeliveredSchema,
  WebhookTestSchema,
} from '../schemas';

const ops = allow('ops');

/** The kept answer, its secret blanked (a refusal has none to blank). */
const withoutSecret = idempotentKeeping((body) => {
  const answer = JSON.parse(body) as Record<string, unknown>;
  return 'secret' in answer ? JSON.stringify({ ...answer, secret: null }) : body;
});

const refusals = problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429);

export function webhookRoutes(app: OpenAPIHono<ApiEnv>) {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks',
      tags: ['ops'],
      summary: 'Add a webhook endpoint: https (plain http only to this machine), never a private or link-local address; its signing secret is in this answer only',
      security,
      middleware: [ops, withoutSecret] as const,
      request: { query: NoQuery, body: jsonBody(WebhookBodySchema) },
      responses: { 201: json(WebhookEndpointWithSecretSchema, 'The endpoint, with its secret shown once'), ...refusals },
    }),
    async (c) => c.json(await addWebhook(c.var.ctx, c.req.valid('json')), 201),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhooks',
      tags: ['ops'],
      summary: 'Webhook endpoints, newest first (no secrets)',
      security,
      middleware: [ops] as const,
      request: { query: NoQuery },
      responses: { 200: json(z.object({ data: z.array(WebhookEndpointSchema) }), 'The endpoints'), ...problemResponses(401, 403, 422, 429) },
    }),
    async (c) => c.json({ data: await listWebhooks(c.var.ctx) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhooks/{id}',
      tags: ['ops'],
      summary: 'One endpoint: its timeline (added, disabled and why, enabled, rotated), the events waiting for it and its latest attempts',
      security,
      middleware: [ops] as const,
      request: { query: NoQuery, params: WebhookParams },
      responses: { 200: json(WebhookEndpointDetailSchema, 'The endpoint'), ...problemResponses(400, 401, 403, 404, 422, 429) },
    }),
    async (c) => c.json(await showWebhook(c.var.ctx, { id: c.req.valid('param').id }), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks/{id}/disable',
      tags: ['ops'],
      summary: 'Stop sending events to an endpoint (events recorded meanwhile are not owed to it)',
      security,
      middleware: [ops, idempotent] as const,
      request: { query: NoQuery, params: WebhookParams, body: jsonBody(EmptyBodySchema) },
      responses: { 200: json(WebhookEndpointSchema, 'The endpoint'), ...refusals },
    }),
    async (c) => c.json(await disableWebhook(c.var.ctx, { id: c.req.valid('param').id, by: `API key "${c.var.caller.name}"` }), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks/{id}/enable',
      tags: ['ops'],
      summary: 'Send events recorded from now on to an endpoint again',
      security,
      middleware: [ops, idempotent] as const,
      request: { query: NoQuery, params: WebhookParams, body: jsonBody(EmptyBodySchema) },
      responses: { 200: json(WebhookEndpointSchema, 'The endpoint'), ...refusals },
    }),
    async (c) => c.json(await enableWebhook(c.var.ctx, c.req.valid('param')), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks/{id}/rotate',
      tags: ['ops'],
      summary: 'A new signing secret, in this answer only; the previous one also signs for 24 hours',
      security,
      middleware: [ops, withoutSecret] as const,
      request: { query: NoQuery, params: WebhookParams, body: jsonBody(EmptyBodySchema) },
      responses: { 200: json(WebhookEndpointWithSecretSchema, 'The endpoint, with its new secret shown once'), ...refusals },
    }),
    async (c) => c.json(await rotateWebhookSecret(c.var.ctx, c.req.valid('param')), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks/{id}/redeliver',
      tags: ['ops'],
      summary: 'Send events again: one (eventId) or every event since a time (since) that the endpoint takes, each with its own webhook-id',
      security,
      middleware: [ops, idempotent] as const,
      request: { query: NoQuery, params: WebhookParams, body: jsonBody(WebhookRedeliverBodySchema) },
      responses: { 200: json(WebhookRedeliveredSchema, 'How many are owed again'), ...refusals },
    }),
    async (c) => c.json(await redeliverWebhookEvents(c.var.ctx, { ...c.req.valid('param'), ...c.req.valid('json') }), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks/{id}/test',
      tags: ['ops'],
      summary: 'Send one signed webhook.test event now, not retried, and say how the endpoint answered',
      security,
      middleware: [ops, idempotent] as const,
      request: { query: NoQuery, params: WebhookParams, body: jsonBody(EmptyBodySchema) },
      responses: { 200: json(WebhookTestSchema, 'How the endpoint answered'), ...refusals },
    }),
    async (c) => c.json(await testWebhook(c.var.ctx, c.req.valid('param')), 200),
  );
}
