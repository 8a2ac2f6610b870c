// The CSV import's body as chunks for the streaming import: straight from the socket, or from
// memory when the idempotency check has already read it for its hash.
import type { Context } from 'hono';

export async function* csvBody(c: Context): AsyncGenerator<Buffer> {
  const cached = c.req.bodyCache.arrayBuffer;
  if (cached) {
    yield Buffer.from(await cached);
    return;
  }
  const body = c.req.raw.body;
  if (!body) return;
  for await (const chunk of body) yield Buffer.from(chunk);
}
