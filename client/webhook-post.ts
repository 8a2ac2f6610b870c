// One signed POST to a webhook endpoint, as the delivery activity and `dunning webhook test`
// both make it: Standard Webhooks' headers and signatures (the current secret's, and the
// previous one's during the day after a rotation), no redirect followed, 10 s to answer.
import { Webhook } from 'standardwebhooks';
import type { webhookEndpoints } from '../db/schema';
import { openWebhookSecret } from '../db/webhook-secrets';

/** How long one attempt may take before it counts as failed. */
export const webhookAttemptTimeoutMs = 10_000;

type Endpoint = Pick<typeof webhookEndpoints.$inferSelect, 'url' | 'secretCiphertext' | 'previousSecretCiphertext' | 'previousSecretExpiresAt'>;

/** What an attempt came to, as logged in webhook_attempts: a 2xx has no error. */
export interface WebhookAttempt {
  httpStatus: number | null;
  latencyMs: number;
  error: string | null;
}

export type WebhookSigner = (id: string, at: Date, body: string) => string;

/** What signs an endpoint's requests at `now`; open it once for many posts. */
export function webhookSigner(endpoint: Endpoint, key: Buffer, now: Date): WebhookSigner {
  const sealed = [endpoint.secretCiphertext];
  if (endpoint.previousSecretCiphertext && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now) {
    sealed.push(endpoint.previousSecretCiphertext);
  }
  const hooks = sealed.map((s) => new Webhook(openWebhookSecret(s, key)));
  return (id, at, body) => hooks.map((hook) => hook.sign(id, at, body)).join(' ');
}

export async function postWebhook(url: string, sign: WebhookSigner, id: string, at: Date, body: string, signal?: AbortSignal): Promise<WebhookAttempt> {
  const started = performance.now();
  try {
    const timeout = AbortSignal.timeout(webhookAttemptTimeoutMs);
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'dunning-engine-webhooks/1',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': sign(id, at, body),
      },
      body,
      redirect: 'manual', // a redirect could lead anywhere, past the URL's checks
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    });
    await response.body?.cancel();
    const latencyMs = Math.round(performance.now() - started);
    const ok = response.status >= 200 && response.status < 300;
    return { httpStatus: response.status, latencyMs, error: ok ? null : `HTTP ${response.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const error = e.name === 'TimeoutError' ? `no answer within ${webhookAttemptTimeoutMs / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { httpStatus: null, latencyMs: Math.round(performance.now() - started), error };
  }
}
