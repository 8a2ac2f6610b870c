// Every refusal over HTTP is application/problem+json (RFC 9457): `detail` is the sentence the
// CLI prints for the same refusal, `code` the one a program branches on.
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from '@hono/zod-openapi';
import type { DunningErrorCode } from '../errors';

/** Refusals of the HTTP door itself, beside the service's own codes. */
export type HttpProblemCode =
  | 'malformed_json'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'idempotency_in_flight'
  | 'idempotency_key_reused'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

export type ProblemCode = DunningErrorCode | HttpProblemCode;

/** The status each service refusal answers with; the table must name every code. */
export const statusOfCode: Record<ProblemCode, ContentfulStatusCode> = {
  unknown_plan: 404,
  unknown_policy: 404,
  unknown_task: 404,
  unknown_invoice: 404,
  unknown_contact: 404,
  unknown_api_key: 404,
  unknown_report: 404,
  unknown_webhook: 404,
  unknown_event: 404,
  webhook_disabled: 409,
  pay_token_malformed: 422,
  pay_token_unsigned: 422,
  pay_token_expired: 410,
  not_running: 409,
  plan_closed: 409,
  already_paused: 409,
  not_paused: 409,
  invoice_held: 409,
  invoice_not_held: 409,
  task_closed: 409,
  promise_refused: 422,
  mail_rejected: 422,
  mail_unavailable: 503,
  invalid: 422,
  malformed_json: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  idempotency_in_flight: 409,
  idempotency_key_reused: 422,
  body_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

const titles: Partial<Record<ContentfulStatusCode, string>> = {
  400: 'Bad request',
  401: 'Unauthenticated',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  500: 'Internal server error',
  503: 'Service unavailable',
};

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'urn:dunning:problem:unknown_plan' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().openapi({ example: 'Unknown plan "plan-ACME".' }),
    code: z.string().openapi({ example: 'unknown_plan' }),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');
export type Problem = z.infer<typeof ProblemSchema>;

export function problemOf(code: ProblemCode, detail: string, errors?: Problem['errors']): Problem {
  const status = statusOfCode[code];
  return { type: `urn:dunning:problem:${code}`, title: titles[status] ?? 'Error', status, detail, code, ...(errors ? { errors } : {}) };
}

export function problem(code: ProblemCode, detail: string, init: { errors?: Problem['errors']; headers?: Record<string, string> } = {}): Response {
  const body = problemOf(code, detail, init.errors);
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: { 'content-type': 'application/problem+json', ...init.headers },
  });
}

/** The problem responses a route may give, for its OpenAPI entry; any route may fail with a 500. */
export function problemResponses(...statuses: ContentfulStatusCode[]) {
  const content = { 'application/problem+json': { schema: ProblemSchema } };
  return Object.fromEntries([...statuses, 500 as const].map((s) => [s, { description: titles[s] ?? 'Error', content }]));
}
