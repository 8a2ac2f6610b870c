// The pay link a dunning email carries: the billing system's pay page (a configured URL
// template) with a token that says which plan, how much, in which currency and until when,
// signed with HMAC-SHA256 so the pay page can trust it once the engine has verified it
// (`dunning paylink verify`, GET /v1/pay-links/verify).
//
// A token is `v1.<planId>.<amountMinor>.<currency>.<expires>.<signature>`: the plan id in
// base64url (an id may hold dots or anything else), the amount in minor units, the ISO 4217
// code, the expiry in Unix seconds, and the HMAC-SHA256 of everything before the last dot in
// base64url (43 characters). Only URL-safe characters, readable at a glance, about 90 long.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { durationMs } from '../workflows/domain/duration';

/** The bytes of the signing key. */
export const PAY_LINK_KEY_BYTES = 32;

/** What a URL template may ask for; anything else in braces is refused by the config. */
export const payLinkPlaceholders = ['planId', 'amountMinor', 'currency', 'token'] as const;
type Placeholder = (typeof payLinkPlaceholders)[number];

/** The names in braces a URL template holds that are not placeholders. */
export function unknownPlaceholders(urlTemplate: string): string[] {
  return [...urlTemplate.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!).filter((name) => !(payLinkPlaceholders as readonly string[]).includes(name));
}

export interface PayTokenClaims {
  planId: string;
  amountMinor: number;
  currency: string;
  /** Whole seconds: the token says no more than that. */
  expiresAt: Date;
}

export interface PayLinkSettings {
  urlTemplate: string;
  /** How long after its email a link works (ms). */
  ttlMs: number;
  key: Buffer;
}

const VERSION = 'v1';
/** Longer than any token the engine writes (plan ids are at most a few hundred characters). */
const MAX_TOKEN_LENGTH = 2048;
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;

function sign(unsigned: string, key: Buffer): Buffer {
  if (key.length !== PAY_LINK_KEY_BYTES) throw new Error(`The pay link key must be ${PAY_LINK_KEY_BYTES} bytes, not ${key.length}.`);
  return createHmac('sha256', key).update(unsigned, 'utf8').digest();
}

export function signPayToken(claims: PayTokenClaims, key: Buffer): string {
  const unsigned = [
    VERSION,
    Buffer.from(claims.planId, 'utf8').toString('base64url'),
    String(claims.amountMinor),
    claims.currency,
    String(Math.floor(claims.expiresAt.getTime() / 1000)),
  ].join('.');
  return `${unsigned}.${sign(unsigned, key).toString('base64url')}`;
}

/** What a token came to: its claims, or why it is refused (checked in this order). */
export type PayTokenReading =
  | { ok: true; claims: PayTokenClaims }
  | { ok: false; reason: 'malformed' }
  | { ok: false; reason: 'unsigned' }
  | { ok: false; reason: 'expired'; claims: PayTokenClaims };

/**
 * Reads a token: its shape first (malformed), then its signature (missing, or not this key's
 * over these very characters: unsigned), then its expiry against `now`. The claims are trusted
 * only after the signature, compared in constant time.
 */
export function readPayToken(token: string, key: Buffer, now: Date): PayTokenReading {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  // Five parts is a token with its signature cut off: well formed, but unsigned.
  if (parts.length !== 5 && parts.length !== 6) return { ok: false, reason: 'malformed' };
  const [version, planPart, amountPart, currency, expiresPart, signature] = parts as [string, string, string, string, string, string | undefined];
  const planId = Buffer.from(planPart, 'base64url').toString('utf8');
  const wellFormed =
    version === VERSION &&
    /^[A-Za-z0-9_-]+$/.test(planPart) &&
    Buffer.from(planId, 'utf8').toString('base64url') === planPart &&
    /^(0|[1-9]\d{0,14})$/.test(amountPart) &&
    /^[A-Z]{3}$/.test(currency) &&
    /^[1-9]\d{0,11}$/.test(expiresPart);
  if (!wellFormed) return { ok: false, reason: 'malformed' };
  if (signature === undefined || !SIGNATURE.test(signature)) return { ok: false, reason: 'unsigned' };
  // The texts are compared, not their bytes: base64url's last character carries two spare bits,
  // and a signature differing only there must not pass as the same one.
  const expected = Buffer.from(sign(parts.slice(0, 5).join('.'), key).toString('base64url'));
  if (!timingSafeEqual(Buffer.from(signature), expected)) return { ok: false, reason: 'unsigned' };
  const claims: PayTokenClaims = { planId, amountMinor: Number(amountPart), currency, expiresAt: new Date(Number(expiresPart) * 1000) };
  if (claims.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired', claims };
  return { ok: true, claims };
}

/**
 * The pay page's URL for an email: the template's placeholders filled in (each value
 * URL-encoded) and the token as `{token}`, or appended as a `token=` query parameter when the
 * template does not place it. The expiry is `sentAt` + ttl, where `sentAt` is the step's
 * instant of acting as the workflow recorded it, never the clock at rendering: every retry of
 * the same step renders the same link, so the message under one idempotency key never changes.
 */
export function payLinkUrl(settings: PayLinkSettings, facts: { planId: string; amountMinor: number; currency: string; sentAt: Date }): string {
  const token = signPayToken(
    { planId: facts.planId, amountMinor: facts.amountMinor, currency: facts.currency, expiresAt: new Date(facts.sentAt.getTime() + settings.ttlMs) },
    settings.key,
  );
  const values: Record<Placeholder, string> = { planId: facts.planId, amountMinor: String(facts.amountMinor), currency: facts.currency, token };
  // One pass, so a value holding "{token}" is never filled in again.
  const filled = settings.urlTemplate.replace(/\{(planId|amountMinor|currency|token)\}/g, (_, name: Placeholder) => encodeURIComponent(values[name]));
  if (settings.urlTemplate.includes('{token}')) return filled;
  const hash = filled.indexOf('#');
  const [base, fragment] = hash < 0 ? [filled, ''] : [filled.slice(0, hash), filled.slice(hash)];
  const joiner = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${joiner}token=${token}${fragment}`;
}

/**
 * The settings emails are rendered with, or undefined when no pay page is configured (then no
 * email has a button, and no key is read or made).
 */
export function payLinkSettings(config: { urlTemplate?: string; ttl: string; readonly signingKey: Buffer }): PayLinkSettings | undefined {
  if (!config.urlTemplate) return undefined;
  return { urlTemplate: config.urlTemplate, ttlMs: durationMs(config.ttl), key: config.signingKey };
}
