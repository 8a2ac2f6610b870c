// The HTTP server for the API and the rep console: the Hono app on Node's http module.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';
import { StartupError } from '../../worker/config';

export interface HttpServer {
  url: string;
  close(): Promise<void>;
  /** Settles when the server stops listening. */
  closed: Promise<void>;
}

/** Listens on host:port (0 for any free port); a port in use is one sentence, not a stack. */
export async function serveHttp(app: Pick<Hono, 'fetch'>, opts: { host: string; port: number }): Promise<HttpServer> {
  const server = createAdaptorServer({ fetch: app.fetch, hostname: opts.host, port: opts.port }) as Server;
  // Keep-alive sockets would hold close() open until they time out; drop idle ones at close.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new StartupError(`Port ${opts.port} on ${opts.host} is in use; stop what holds it or set http.port in temporal.config.json.`)
          : err,
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    closed,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
