// What collections reps do on a plan: promises, escalations, pause and resume, tasks, consent.
// A refusal is the journey's own sentence; the rep (and the timeline's "by") is the API key's name.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { setConsent } from '../../consent';
import { completeTask, escalate, holdInvoice, pause, recordPromise, releaseInvoice, resume } from '../../dunning';
import { allow, type ApiEnv } from '../auth';
import { idempotent } from '../idempotency';
import { problemResponses } from '../problems';
import { json, jsonBody, security } from '../route-parts';
import {
  CompleteTaskBodySchema,
  ConsentBodySchema,
  ConsentParams,
  ConsentSchema,
  EmptyBodySchema,
  EscalatedSchema,
  NoQuery,
  PauseBodySchema,
  HoldInvoiceBodySchema,
  InvoiceParams,
  PlanIdParams,
  PlanStateSchema,
  PromiseBodySchema,
  PromiseRecordedSchema,
  ReasonBodySchema,
  TaskParams,
} from '../schemas';

const reps = allow('rep', 'ops');
/** What a route that calls the plan's journey may answer besides its own result. */
const refusals = problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503);

export function repRoutes(app: OpenAPIHono<ApiEnv>) {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans/{planId}/promises',
      tags: ['reps'],
      summary: 'Record a promise to pay: one date, or installments',
      security,
      middleware: [reps, idempotent] as const,
      request: { query: NoQuery, params: PlanIdParams, body: jsonBody(PromiseBodySchema) },
      responses: { 201: json(PromiseRecordedSchema, 'The promise, now monitored'), ...refusals },
    }),
    async (c) => {
      const { planId } = c.req.valid('param');
      const body = c.req.valid('json');
      const recorded = await recordPromise(c.var.ctx, { planId, ...body, rep: body.rep ?? c.var.caller.name });
      return c.json({ planId, ...recorded }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans/{planId}/escalations',
      tags: ['reps'],
      summary: 'Escalate now: a task for a rep',
      security,
      middleware: [reps, idempotent] as const,
      request: { query: NoQuery, params: PlanIdParams, body: jsonBody(ReasonBodySchema) },
      responses: { 201: json(EscalatedSchema, 'The task created'), ...refusals },
    }),
    async (c) => {
      const { planId } = c.req.valid('param');
      return c.json({ planId, ...(await escalate(c.var.ctx, { planId, ...c.req.valid('json'), by: c.var.caller.name })) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans/{planId}/pause',
      tags: ['reps'],
      summary: 'Pause the journey (e.g. a dispute): nothing is sent until it resumes, by a rep or at `until`',
      security,
      middleware: [reps, idempotent] as const,
      request: { query: NoQuery, params: PlanIdParams, body: jsonBody(PauseBodySchema) },
      responses: { 200: json(PlanStateSchema, "The journey's state"), ...refusals },
    }),
    async (c) => c.json(await pause(c.var.ctx, { ...c.req.valid('param'), ...c.req.valid('json'), by: c.var.caller.name }), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans/{planId}/invoices/{invoiceNumber}/hold',
      tags: ['reps'],
      summary: 'Hold one invoice for a dispute: out of what is owed, the emails and the promise limits while the others are collected; back by itself at `until`',
      security,
      middleware: [reps, idempotent] as const,
      request: { query: NoQuery, params: InvoiceParams, body: jsonBody(HoldInvoiceBodySchema) },
      responses: { 200: json(PlanStateSchema, "The journey's state"), ...refusals },
    }),
    async (c) => c.json(await holdInvoice(c.var.ctx, { ...c.req.valid('param'), ...c.req.valid('json'), by: c.var.caller.name }), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans/{planId}/invoices/{invoiceNumber}/release',
      tags: ['reps'],
      summary: 'Release a held invoice: it is collected again',
      security,
      middleware: [reps, idempotent] as const,
      request: { query: NoQuery, params: InvoiceParams, body: jsonBody(EmptyBodySchema) },
      responses: { 200: json(PlanStateSchema, "The journey's state"), ...refusals },
    }),
    async (c) => c.json(await releaseInvoice(c.var.ctx, { ...c.req.valid('param'), by: c.var.caller.name }), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans/{planId}/resume',
      tags: ['reps'],
      summary: 'Resume a paused journey',
      security,
      middleware: [reps, idempotent] as const,
      request: { query: NoQuery, params: PlanIdParams, body: jsonBody(EmptyBodySchema) },
      responses: { 200: json(PlanStateSchema, "The journey's state"), ...refusals },
    }),
    async (c) => c.json(await resume(c.var.ctx, { ...c.req.valid('param'), by: c.var.caller.name }), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans/{planId}/tasks/{taskId}/complete',
      tags: ['reps'],
      summary: 'Close a task with its outcome (write_off, dispute, promise, contacted, …)',
      security,
      middleware: [reps, idempotent] as const,
      request: { query: NoQuery, params: TaskParams, body: jsonBody(CompleteTaskBodySchema) },
      responses: { 200: json(PlanStateSchema, "The journey's state"), ...refusals },
    }),
    async (c) => c.json(await completeTask(c.var.ctx, { ...c.req.valid('param'), ...c.req.valid('json'), by: c.var.caller.name }), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/contacts/{contactId}/consent',
      tags: ['reps'],
      summary: "Record a contact's email consent; an opted-out contact gets no dunning email",
      security,
      middleware: [reps, idempotent] as const,
      request: { query: NoQuery, params: ConsentParams, body: jsonBody(ConsentBodySchema) },
      responses: { 200: json(ConsentSchema, 'The consent recorded'), ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429) },
    }),
    async (c) => {
      const { contactId } = c.req.valid('param');
      const { channel, consent } = c.req.valid('json');
      await setConsent(c.var.ctx, { contact: contactId, consent });
      return c.json({ contactId, channel, consent }, 200);
    },
  );
}
