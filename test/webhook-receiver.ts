// A local webhook receiver for the tests: it checks every request's signature with the
// Standard Webhooks library, as a billing system would, and records what it took by webhook-id.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { Client } from '@temporalio/client';
import { ensureWebhookDelivery } from '../client/webhook-delivery';
import type { PlanEventBody } from '../db/plan-events';
import type { DunningConfig } from '../worker/config';
import { webhookWorkflowId, type WebhookDeliveryInput } from '../workflows/webhook-delivery';

/** What the receiver took: each request with its verified body, in arrival order. */
export interface Received {
  id: string;
  body: PlanEventBody;
  status: number;
  /** How many signatures the request carried (two in the day after a rotation). */
  signatures: number;
}

/**
 * A local webhook receiver on 127.0.0.1. It verifies each request with the endpoint's secret
 * (a bad signature is answered 400 and never counted), answers `failFirst` of them 503, and
 * records every request it took.
 */
export async function startReceiver(opts: { failFirst?: number; status?: number } = {}) {
  const received: Received[] = [];
  const failures: string[] = [];
  let secrets: string[] = [];
  let toFail = opts.failFirst ?? 0;
  /** The next verified request is held until released (a sender killed while it waits). */
  let hold: { take: (id: string) => void; answered: Promise<number> } | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = req.headers as IncomingHttpHeaders & Record<string, string>;
      const verified = secrets.some((secret) => {
        try {
          new Webhook(secret).verify(raw, headers);
          return true;
        } catch {
          return false;
        }
      });
      if (!verified) {
        failures.push(headers['webhook-id'] ?? '(no id)');
        res.writeHead(400).end();
        return;
      }
      const id = headers['webhook-id']!;
      const answer = (status: number) => {
        received.push({ id, body: JSON.parse(raw) as PlanEventBody, status, signatures: (headers['webhook-signature'] ?? '').split(' ').length });
        res.writeHead(status).end();
      };
      if (hold) {
        const { take, answered } = hold;
        hold = undefined;
        take(id);
        void answered.then(answer);
        return;
      }
      answer(opts.status ?? (toFail-- > 0 ? 503 : 204));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    /** Taken: answered 2xx. */
    taken: () => received.filter((r) => r.status < 300),
    failures,
    trust: (...s: string[]) => (secrets = s),
    secrets: () => secrets,
    /**
     * Holds the next verified request: `held` resolves with its webhook-id once it arrives, and
     * `answer(status)` then answers it (and counts it, as a receiver that took it would).
     */
    holdNext() {
      let take!: (id: string) => void;
      let answer!: (status: number) => void;
      const held = new Promise<string>((resolve) => (take = resolve));
      hold = { take, answered: new Promise<number>((resolve) => (answer = resolve)) };
      return { held, answer };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;


/**
 * Runs an endpoint's delivery on this test's own task queue. The database and the dev server
 * are shared with other suites, whose engine processes also start every enabled endpoint's
 * delivery when one is added: one of them may have taken ours onto its task queue (and may stop
 * at any moment). Such a run is ended and ours started in its place.
 */
export async function deliverHere(client: Client, config: Pick<DunningConfig, 'temporal'>, input: WebhookDeliveryInput): Promise<void> {
  const handle = client.workflow.getHandle(webhookWorkflowId(input.endpointId));
  for (let tries = 0; tries < 10; tries++) {
    await ensureWebhookDelivery(client, config, input);
    const { taskQueue, status } = await handle.describe();
    if (status.name === 'RUNNING' && taskQueue === config.temporal.taskQueues.dunning) return;
    if (status.name === 'RUNNING') await handle.terminate('another suite\'s engine started it; the owning test runs it');
  }
  throw new Error(`Could not run webhook ${input.endpointId}'s delivery on ${config.temporal.taskQueues.dunning}.`);
}
