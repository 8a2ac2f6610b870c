// Webhook signing secrets: made in the Standard Webhooks form (`whsec_` + base64 of 32 random
// bytes), shown to ops once, and kept in the database only sealed with AES-256-GCM under the
// key from the environment (DUNNING_WEBHOOK_KEY, or the data dir's webhook.key). GCM's tag
// makes a wrong key or an altered row fail loudly instead of signing with garbage.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The bytes of the sealing key: AES-256. */
export const WEBHOOK_KEY_BYTES = 32;
const IV_BYTES = 12;
const SEALED = /^v1\.([A-Za-z0-9+/=]+)\.([A-Za-z0-9+/=]+)\.([A-Za-z0-9+/=]*)$/;

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function requireKey(key: Buffer): void {
  if (key.length !== WEBHOOK_KEY_BYTES) throw new Error(`The webhook key must be ${WEBHOOK_KEY_BYTES} bytes, not ${key.length}.`);
}

/** `v1.<iv>.<tag>.<ciphertext>`, each base64: one text column holds it. */
export function sealWebhookSecret(secret: string, key: Buffer): string {
  requireKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join('.');
}

export function openWebhookSecret(sealed: string, key: Buffer): string {
  requireKey(key);
  const parts = SEALED.exec(sealed);
  if (!parts) throw new Error('The sealed webhook secret is not in the v1.<iv>.<tag>.<ciphertext> form.');
  const [, iv, tag, ciphertext] = parts as unknown as [string, string, string, string];
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('The webhook secret does not open with this key: DUNNING_WEBHOOK_KEY (or webhook.key) is not the key it was sealed with.');
  }
}
