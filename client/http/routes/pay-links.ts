// The billing system's pay page asks whether a pay link's token is ours and what it asks for,
// through the verb `dunning paylink verify` calls; a refusal is that command's sentence.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { verifyPayLink } from '../../pay-links';
import { allow, type ApiEnv } from '../auth';
import { problemResponses } from '../problems';
import { json, security } from '../route-parts';
import { PayLinkQuery, VerifiedPayLinkSchema } from '../schemas';

const billing = allow('billing', 'ops');

export function payLinkRoutes(app: OpenAPIHono<ApiEnv>) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/pay-links/verify',
      tags: ['plans'],
      summary:
        "Verify a pay link's token for the pay page: the plan, amount, currency and expiry it was signed with, and what is owed now; " +
        'refused when malformed (422 pay_token_malformed), not signed by this engine or changed (422 pay_token_unsigned), expired (410 pay_token_expired) or for an unknown plan (404)',
      security,
      middleware: [billing] as const,
      // In the query, which the access log never writes, rather than in the path.
      request: { query: PayLinkQuery },
      responses: { 200: json(VerifiedPayLinkSchema, 'The token is ours and still valid'), ...problemResponses(401, 403, 404, 410, 422, 429) },
    }),
    async (c) => c.json(await verifyPayLink(c.var.ctx, { token: c.req.valid('query').token }), 200),
  );
}
