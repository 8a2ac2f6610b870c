// The pieces every route's OpenAPI entry is made of, written once for the route files.
import type { z } from '@hono/zod-openapi';

/** A JSON response of `schema`. */
export const json = <S extends z.ZodType>(schema: S, description: string) => ({ description, content: { 'application/json': { schema } } });

/** A required JSON request body of `schema`. */
export const jsonBody = <S extends z.ZodType>(schema: S) => ({ required: true, content: { 'application/json': { schema } } });

/** Every /v1 route takes a bearer API key. */
export const security = [{ bearer: [] }];
