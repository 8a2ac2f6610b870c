// Hostile requests against the HTTP API on the real stack: each must be refused with a 4xx
// problem+json whose detail is one plain sentence, and must write nothing (the rows of every
// account, plan and policy the table names are counted before and after each request).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { importRows } from '../client/import';
import { setPolicy } from '../client/policies';
import { secondsPolicy } from './fixtures';
import { compositePlan, importCsvText, rowCounts, startApiHarness, type ApiHarness, type Role } from './http-support';

let h: ApiHarness;
const run = randomUUID().slice(0, 6);
/** An initiated plan every plan route aims at: a request that got through would change it. */
const target = { acct: `HOST-${run}`, planId: `plan-HOST-${run}` };
const policy = `hostile-${run}`;
const sqlId = "'; drop table collection_plans; --";

/** An account id per composite create, so a create that got through shows in its counts. */
const created: string[] = [];
function create(patch: (body: ReturnType<typeof compositePlan>) => unknown = (b) => b): unknown {
  const acct = `HX-${run}-${created.length + 1}`;
  created.push(acct);
  return patch(compositePlan(acct));
}
const scope = () => ({ accounts: [target.acct, sqlId, `${sqlId}\n`, ...created], policies: [policy, 'standard'] });

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const plans = (rest = '') => `/v1/plans/${target.planId}${rest}`;
const json = { 'content-type': 'application/json' };
const csv = { 'content-type': 'text/csv' };

interface Hostile {
  name: string;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  /** A string goes as it is; anything else as JSON. A function is called when the request is sent. */
  body?: unknown;
  headers?: Record<string, string>;
  as?: Role;
  status: number;
  code: string;
  /** The sentence, or a pattern it must match. */
  detail?: string | RegExp;
}

const cases: Hostile[] = [
  // --- the body's form -------------------------------------------------------------------------
  { name: 'malformed JSON', method: 'POST', path: '/v1/plans', body: '{"account": {"id": "X"', headers: json, status: 400, code: 'malformed_json', detail: 'The request body is not valid JSON.' },
  { name: 'JSON with a trailing comma', method: 'POST', path: plans('/payments'), body: '{"paymentId": "p", "amountMinor": 1,}', headers: json, status: 400, code: 'malformed_json' },
  { name: 'an empty JSON body', method: 'POST', path: plans('/cancel'), body: '', headers: json, status: 400, code: 'malformed_json' },
  { name: 'JSON sent as text/plain', method: 'POST', path: '/v1/plans', body: JSON.stringify(create()), headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type', detail: 'Send the request body as application/json, not text/plain.' },
  { name: 'a form post', method: 'POST', path: plans('/payments'), body: 'paymentId=p&amountMinor=100', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported_media_type' },
  { name: 'a body with no content type', method: 'POST', path: plans('/escalations'), body: new TextEncoder().encode('{"reason":"x"}'), as: 'rep', status: 415, code: 'unsupported_media_type', detail: 'Send the request body as application/json.' },
  { name: 'a JSON-ish media type', method: 'POST', path: plans('/cancel'), body: '{"reason":"x"}', headers: { 'content-type': 'application/json-patch+json' }, status: 415, code: 'unsupported_media_type' },
  { name: 'a content type with a stray semicolon', method: 'POST', path: plans('/cancel'), body: '{"reason":"x"}', headers: { 'content-type': 'application/json;' }, status: 415, code: 'unsupported_media_type', detail: 'Send the request body as application/json.' },
  { name: 'a content type with a broken parameter', method: 'POST', path: plans('/cancel'), body: '{"reason":"x"}', headers: { 'content-type': 'application/json; charset' }, status: 415, code: 'unsupported_media_type', detail: 'Send the request body as application/json.' },
  { name: 'JSON to the CSV import', method: 'POST', path: '/v1/imports', body: create(), status: 415, code: 'unsupported_media_type', detail: 'Send the request body as text/csv, not application/json.' },
  { name: 'a CSV to a JSON route', method: 'PUT', path: `/v1/policies/${policy}`, body: 'name,steps\nx,y', headers: csv, status: 415, code: 'unsupported_media_type' },
  { name: 'a JSON body over 1 MB', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, account: { ...b.account, name: 'x'.repeat(1_100_000) } })), status: 413, code: 'body_too_large', detail: 'The request body is larger than 1 MB.' },
  { name: 'a policy over 1 MB', method: 'PUT', path: `/v1/policies/${policy}`, body: { ...secondsPolicy(policy, { upcoming_notice: 0 }), pad: 'y'.repeat(1_100_000) }, status: 413, code: 'body_too_large' },
  { name: '10,000 nested arrays in a field', method: 'POST', path: '/v1/plans', body: JSON.stringify(create()).replace(/"contacts":/, `"deep": ${nested(10_000)}, "contacts":`), headers: json, status: 422, code: 'invalid' },
  { name: '10,000 nested arrays as the account', method: 'POST', path: '/v1/plans', body: JSON.stringify(create()).replace(/"account":\{[^}]*\}/, `"account": ${nested(10_000)}`), headers: json, status: 422, code: 'invalid', detail: 'account must be an object, not an array.' },
  { name: '400,000 nested arrays, just under 1 MB', method: 'POST', path: plans('/escalations'), body: `{"reason": ${nested(400_000)}}`, headers: json, as: 'rep', status: 422, code: 'invalid', detail: 'reason must be a string, not an array.' },
  { name: '150,000 nested objects in a policy', method: 'PUT', path: `/v1/policies/${policy}`, body: `{"steps": [${'{"a":'.repeat(150_000)}1${'}'.repeat(150_000)}]}`, headers: json, status: 422, code: 'invalid' },
  { name: '10,000 nested arrays in a policy', method: 'PUT', path: `/v1/policies/${policy}`, body: `{"steps": ${nested(10_000)}, "maxPromises": 1}`, headers: json, status: 422, code: 'invalid', detail: 'Invalid policy field "steps.0": must be an object.' },
  { name: '10,000 nested arrays as a reason', method: 'POST', path: plans('/pause'), body: `{"reason": ${nested(10_000)}}`, headers: json, as: 'rep', status: 422, code: 'invalid', detail: 'reason must be a string, not an array.' },

  // --- wrong types -----------------------------------------------------------------------------
  { name: 'an amount as a string', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: [{ ...b.invoices[0], amountMinor: '500' }] })), status: 422, code: 'invalid', detail: 'invoices[0].amountMinor must be a number of minor units.' },
  { name: 'a payment amount as a string', method: 'POST', path: plans('/payments'), body: { paymentId: `hx-${run}-1`, amountMinor: '100' }, status: 422, code: 'invalid', detail: 'amountMinor must be a number, not a string.' },
  { name: 'an array instead of an object', method: 'POST', path: '/v1/plans', body: [create()], status: 422, code: 'invalid', detail: 'The request body must be an object, not an array.' },
  { name: 'null as the body', method: 'POST', path: plans('/payments'), body: 'null', headers: json, status: 422, code: 'invalid', detail: 'The request body must be an object, not null.' },
  { name: 'null as a field', method: 'POST', path: plans('/escalations'), body: { reason: null }, as: 'rep', status: 422, code: 'invalid', detail: 'reason must be a string, not null.' },
  { name: 'contacts as an object', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, contacts: b.contacts[0] })), status: 422, code: 'invalid', detail: 'contacts must be an array, not an object.' },
  { name: 'a policy as an array', method: 'PUT', path: `/v1/policies/${policy}`, body: [secondsPolicy(policy, { upcoming_notice: 0 })], status: 422, code: 'invalid', detail: 'The request body must be an object, not an array.' },

  // --- minor units -----------------------------------------------------------------------------
  { name: 'a negative payment', method: 'POST', path: plans('/payments'), body: { paymentId: `hx-${run}-2`, amountMinor: -100 }, status: 422, code: 'invalid', detail: 'amountMinor must be more than zero.' },
  { name: 'a zero payment', method: 'POST', path: plans('/payments'), body: { paymentId: `hx-${run}-3`, amountMinor: 0 }, status: 422, code: 'invalid', detail: 'amountMinor must be more than zero.' },
  { name: 'fractional minor units', method: 'POST', path: plans('/payments'), body: { paymentId: `hx-${run}-4`, amountMinor: 12.5 }, status: 422, code: 'invalid', detail: 'amountMinor must be a whole number of minor units.' },
  { name: '1e300 minor units', method: 'POST', path: plans('/payments'), body: '{"paymentId": "hx-5", "amountMinor": 1e300}', headers: json, status: 422, code: 'invalid', detail: 'amountMinor is too large.' },
  { name: 'NaN as a string', method: 'POST', path: plans('/payments'), body: { paymentId: `hx-${run}-6`, amountMinor: 'NaN' }, status: 422, code: 'invalid', detail: 'amountMinor must be a number, not a string.' },
  { name: 'a negative invoice', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: [{ ...b.invoices[0], amountMinor: -1 }] })), status: 422, code: 'invalid', detail: 'invoices[0].amountMinor must be more than zero.' },
  { name: 'a zero promise', method: 'POST', path: plans('/promises'), body: { amountMinor: 0, dueAt: inAnHour() }, as: 'rep', status: 422, code: 'invalid', detail: 'amountMinor must be more than zero.' },
  { name: 'a fractional installment', method: 'POST', path: plans('/promises'), body: { installments: [{ amountMinor: 0.5, dueAt: inAnHour() }] }, as: 'rep', status: 422, code: 'invalid', detail: 'installments[0].amountMinor must be a whole number of minor units.' },

  // --- unknown fields --------------------------------------------------------------------------
  { name: 'an unknown top-level field', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, admin: true })), status: 422, code: 'invalid', detail: 'The request body has an unknown field "admin".' },
  { name: 'an unknown nested field', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, account: { ...b.account, creditLimit: 1e9 } })), status: 422, code: 'invalid', detail: 'account has an unknown field "creditLimit".' },
  { name: 'an unknown field in a payment', method: 'POST', path: plans('/payments'), body: { paymentId: `hx-${run}-7`, amountMinor: 100, currency: 'JPY' }, status: 422, code: 'invalid', detail: 'The request body has an unknown field "currency".' },
  { name: 'a __proto__ field', method: 'POST', path: plans('/cancel'), body: '{"reason": "x", "__proto__": {"admin": true}}', headers: json, status: 422, code: 'invalid', detail: 'The request body has an unknown field "__proto__".' },
  { name: 'a body on resume', method: 'POST', path: plans('/resume'), body: { force: true }, as: 'rep', status: 422, code: 'invalid', detail: 'The request body has an unknown field "force".' },

  // --- ids in paths ----------------------------------------------------------------------------
  { name: 'an encoded ../ as a plan id', method: 'GET', path: '/v1/plans/..%2F..%2Fv1%2Fpolicies', status: 422, code: 'invalid', detail: 'planId may hold letters, digits and - _ . : @ + only.' },
  { name: '%2e%2e%2f as a plan id', method: 'POST', path: '/v1/plans/%2e%2e%2fetc%2fpasswd/payments', body: { paymentId: `hx-${run}-8`, amountMinor: 1 }, status: 422, code: 'invalid', detail: 'planId may hold letters, digits and - _ . : @ + only.' },
  { name: 'an encoded slash in a plan id', method: 'POST', path: `/v1/plans/${target.planId}%2Fcancel/initiate`, body: {}, status: 422, code: 'invalid' },
  { name: 'an encoded ../ as a task id', method: 'POST', path: plans('/tasks/..%2F..%2Fcancel/complete'), body: { outcome: 'x' }, as: 'rep', status: 422, code: 'invalid', detail: 'taskId may hold letters, digits and - _ . : @ + only.' },
  { name: 'a path as a contact id', method: 'POST', path: '/v1/contacts/..%2F..%2Fetc/consent', body: { channel: 'email', consent: 'opted_out' }, as: 'rep', status: 422, code: 'invalid', detail: 'contactId must be a contact id (a UUID).' },
  { name: 'a path as a policy name', method: 'PUT', path: '/v1/policies/..%2Fstandard', body: secondsPolicy('standard', { upcoming_notice: 0 }), status: 422, code: 'invalid', detail: 'name may hold letters, digits and - _ . : @ + only.' },
  { name: 'a path as a preview policy', method: 'GET', path: plans('/preview?policy=..%2Fstandard'), status: 422, code: 'invalid', detail: 'policy may hold letters, digits and - _ . : @ + only.' },
  { name: 'a NUL in a plan id', method: 'GET', path: '/v1/plans/plan-%00', status: 422, code: 'invalid' },

  // --- control characters and SQL-looking ids --------------------------------------------------
  { name: 'a NUL in a reason', method: 'POST', path: plans('/escalations'), body: { reason: 'late\u0000payer' }, as: 'rep', status: 422, code: 'invalid', detail: 'reason must not contain control characters.' },
  { name: 'a NUL in an account name', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, account: { ...b.account, name: 'Acme\u0000Ltd' } })), status: 422, code: 'invalid', detail: 'account.name must not contain control characters.' },
  { name: 'a NUL in an invoice number', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: [{ ...b.invoices[0], number: 'INV\u00001' }] })), status: 422, code: 'invalid', detail: 'invoices[0].number must not contain control characters.' },
  { name: 'an escape sequence in a contact name', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, contacts: [{ ...b.contacts[0], name: 'Wile\u001b[31m' }] })), status: 422, code: 'invalid', detail: 'contacts[0].name must not contain control characters.' },
  { name: 'a bell in a payment id', method: 'POST', path: plans('/payments'), body: { paymentId: 'pay\u0007', amountMinor: 1 }, status: 422, code: 'invalid', detail: 'paymentId must not contain control characters.' },
  { name: 'a newline in an account id', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, account: { ...b.account, id: `${sqlId}\n` } })), status: 422, code: 'invalid', detail: 'account.id may hold letters, digits and - _ . : @ + only.' },
  { name: 'SQL as an account id', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, account: { ...b.account, id: sqlId } })), status: 422, code: 'invalid', detail: 'account.id may hold letters, digits and - _ . : @ + only.' },
  { name: 'SQL as a plan id', method: 'POST', path: `/v1/plans/${encodeURIComponent(sqlId)}/cancel`, body: { reason: 'x' }, status: 422, code: 'invalid', detail: 'planId may hold letters, digits and - _ . : @ + only.' },
  { name: 'SQL as a task id', method: 'POST', path: plans(`/tasks/${encodeURIComponent(sqlId)}/complete`), body: { outcome: 'x' }, as: 'rep', status: 422, code: 'invalid' },
  { name: 'SQL as an initiate policy', method: 'POST', path: plans('/initiate'), body: { policy: sqlId }, status: 422, code: 'invalid', detail: 'policy may hold letters, digits and - _ . : @ + only.' },

  // --- overlong strings ------------------------------------------------------------------------
  { name: 'an account id of 201 characters', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, account: { ...b.account, id: 'A'.repeat(201) } })), status: 422, code: 'invalid', detail: 'account.id is longer than 200 characters.' },
  { name: 'a plan id of 301 characters', method: 'GET', path: `/v1/plans/${'p'.repeat(301)}`, status: 422, code: 'invalid', detail: 'planId is longer than 300 characters.' },
  { name: 'a reason of 501 characters', method: 'POST', path: plans('/pause'), body: { reason: 'r'.repeat(501) }, as: 'rep', status: 422, code: 'invalid', detail: 'reason must be at most 500 characters.' },
  { name: 'an outcome of 501 characters', method: 'POST', path: plans('/tasks/t1/complete'), body: { outcome: 'o'.repeat(501) }, as: 'rep', status: 422, code: 'invalid', detail: 'outcome must be at most 500 characters.' },
  { name: 'an accountId filter of 201 characters', method: 'GET', path: `/v1/plans?accountId=${'a'.repeat(201)}`, status: 422, code: 'invalid', detail: 'accountId is longer than 200 characters.' },
  { name: 'a cursor of 1,001 characters', method: 'GET', path: `/v1/plans?cursor=${'c'.repeat(1001)}`, status: 422, code: 'invalid', detail: 'cursor is longer than 1000 characters.' },

  // --- dates, currency, time zone --------------------------------------------------------------
  { name: 'issued on 2026-02-30', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: [{ ...b.invoices[0], issuedOn: '2026-02-30' }] })), status: 422, code: 'invalid', detail: 'invoices[0].issuedOn is not a real date (YYYY-MM-DD).' },
  { name: 'due on 2026-13-01', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: [{ ...b.invoices[0], dueOn: '2026-13-01' }] })), status: 422, code: 'invalid', detail: 'invoices[0].dueOn is not a real date (YYYY-MM-DD).' },
  { name: 'due before issued', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: [{ ...b.invoices[0], issuedOn: '2026-12-01', dueOn: '2026-11-01' }] })), status: 422, code: 'invalid', detail: 'invoices[0].dueOn is before its issuedOn.' },
  { name: 'issued in the year 0', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: [{ ...b.invoices[0], issuedOn: '0000-01-01' }] })), status: 422, code: 'invalid', detail: 'invoices[0].issuedOn is not a real date (YYYY-MM-DD).' },
  { name: 'received on 2026-02-30', method: 'POST', path: plans('/payments'), body: { paymentId: `hx-${run}-9`, amountMinor: 1, receivedAt: '2026-02-30T10:00:00Z' }, status: 422, code: 'invalid', detail: 'receivedAt must be an ISO 8601 date-time with an offset, like 2026-12-15T17:00:00Z.' },
  { name: 'a promise date without a time', method: 'POST', path: plans('/promises'), body: { amountMinor: 100, dueAt: '2026-13-01' }, as: 'rep', status: 422, code: 'invalid', detail: 'dueAt must be an ISO 8601 date-time with an offset, like 2026-12-15T17:00:00Z.' },
  { name: 'an unknown currency', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, account: { ...b.account, currency: 'XYZ' } })), status: 422, code: 'invalid', detail: 'account.currency is not an ISO 4217 code like USD or EUR.' },
  { name: 'an invalid time zone', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, account: { ...b.account, timezone: 'Mars/Olympus_Mons' } })), status: 422, code: 'invalid', detail: 'account.timezone is not an IANA time zone like Europe/Berlin.' },
  { name: 'an invalid locale', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, account: { ...b.account, locale: 'not a locale' } })), status: 422, code: 'invalid', detail: 'account.locale is not a language tag like en-US or de-DE.' },
  { name: 'an invalid email', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, contacts: [{ ...b.contacts[0], email: 'wile at acme' }] })), status: 422, code: 'invalid', detail: 'contacts[0].email is not an email address.' },

  // --- headers and the query -------------------------------------------------------------------
  { name: 'an Idempotency-Key with spaces', method: 'POST', path: plans('/payments'), body: { paymentId: `hx-${run}-10`, amountMinor: 1 }, headers: { 'idempotency-key': 'my key' }, status: 422, code: 'invalid', detail: 'The Idempotency-Key header must be 1 to 255 visible ASCII characters.' },
  { name: 'an Idempotency-Key of 300 characters', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: [] })), headers: { 'idempotency-key': 'k'.repeat(300) }, status: 422, code: 'invalid', detail: 'The Idempotency-Key header must be 1 to 255 visible ASCII characters.' },
  { name: 'limit=0', method: 'GET', path: '/v1/plans?limit=0', status: 422, code: 'invalid', detail: 'limit must be a whole number from 1 to 200.' },
  { name: 'limit=1000', method: 'GET', path: '/v1/plans?limit=1000', status: 422, code: 'invalid', detail: 'limit must be a whole number from 1 to 200.' },
  { name: 'limit=abc', method: 'GET', path: '/v1/plans?limit=abc', status: 422, code: 'invalid', detail: 'limit must be a whole number from 1 to 200.' },
  { name: 'limit=1.5', method: 'GET', path: '/v1/plans?limit=1.5', status: 422, code: 'invalid', detail: 'limit must be a whole number from 1 to 200.' },
  { name: 'an unknown query parameter', method: 'GET', path: '/v1/plans?sort=amount', status: 422, code: 'invalid', detail: 'The query has an unknown parameter "sort".' },
  { name: 'an unknown query parameter on a POST', method: 'POST', path: '/v1/plans?dryRun=true', body: create(), status: 422, code: 'invalid', detail: 'The query has an unknown parameter "dryRun".' },
  { name: 'an unknown query parameter on a plan', method: 'GET', path: plans('?expand=all'), status: 422, code: 'invalid', detail: 'The query has an unknown parameter "expand".' },
  { name: 'a NUL as the accountId filter', method: 'GET', path: '/v1/plans?accountId=%00', status: 422, code: 'invalid', detail: 'accountId must not contain control characters.' },
  { name: 'a cursor naming a plan id with a NUL', method: 'GET', path: `/v1/plans?cursor=${Buffer.from(JSON.stringify(['1700000000000000', 'plan-\u0000'])).toString('base64url')}`, status: 422, code: 'invalid', detail: 'The cursor is not one this API gave; start again without it.' },
  { name: 'a cursor that is not base64', method: 'GET', path: '/v1/plans?cursor=%25%25%25', status: 422, code: 'invalid', detail: 'The cursor is not one this API gave; start again without it.' },
  { name: 'a cursor of base64 that is not JSON', method: 'GET', path: `/v1/plans?cursor=${Buffer.from('not json').toString('base64url')}`, status: 422, code: 'invalid', detail: 'The cursor is not one this API gave; start again without it.' },
  { name: 'a cursor of JSON in the wrong shape', method: 'GET', path: `/v1/plans?cursor=${Buffer.from('{"id":1}').toString('base64url')}`, status: 422, code: 'invalid', detail: 'The cursor is not one this API gave; start again without it.' },
  { name: 'an unknown status filter', method: 'GET', path: '/v1/plans?status=deleted', status: 422, code: 'invalid', detail: /^status must be one of not_started, in_progress, .*written_off, sent_to_agency, service_cancelled\.$/ },
  { name: 'an unknown task kind filter', method: 'GET', path: '/v1/plans?taskKind=rm', status: 422, code: 'invalid', detail: /^taskKind must be one of manual_escalation, .*\.$/ },

  // --- promises, consent, composite shape ------------------------------------------------------
  { name: 'a promise with dueAt and installments', method: 'POST', path: plans('/promises'), body: { amountMinor: 100, dueAt: inAnHour(), installments: [{ amountMinor: 100, dueAt: inAnHour() }] }, as: 'rep', status: 422, code: 'invalid', detail: 'Give amountMinor and dueAt, or installments (with an optional amountMinor for their total).' },
  { name: 'an empty installments array', method: 'POST', path: plans('/promises'), body: { installments: [] }, as: 'rep', status: 422, code: 'invalid', detail: 'installments must hold at least one installment.' },
  { name: '25 installments', method: 'POST', path: plans('/promises'), body: { installments: Array.from({ length: 25 }, () => ({ amountMinor: 1, dueAt: inAnHour() })) }, as: 'rep', status: 422, code: 'invalid', detail: 'installments may hold at most 24 installments.' },
  { name: 'a promise without a date', method: 'POST', path: plans('/promises'), body: { amountMinor: 100 }, as: 'rep', status: 422, code: 'invalid', detail: 'Give amountMinor and dueAt, or installments (with an optional amountMinor for their total).' },
  { name: 'a rep name with a control character', method: 'POST', path: plans('/promises'), body: { amountMinor: 100, dueAt: inAnHour(), rep: 'Rita\u0008' }, as: 'rep', status: 422, code: 'invalid', detail: 'rep must not contain control characters.' },
  { name: 'consent for SMS', method: 'POST', path: `/v1/contacts/${randomUUID()}/consent`, body: { channel: 'sms', consent: 'opted_out' }, as: 'rep', status: 422, code: 'invalid', detail: 'channel must be "email".' },
  { name: 'consent of maybe', method: 'POST', path: `/v1/contacts/${randomUUID()}/consent`, body: { channel: 'email', consent: 'maybe' }, as: 'rep', status: 422, code: 'invalid', detail: 'consent must be opted_in or opted_out.' },
  { name: 'no contacts', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, contacts: [] })), status: 422, code: 'invalid', detail: 'contacts must hold at least one contact.' },
  { name: 'no invoices', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: [] })), status: 422, code: 'invalid', detail: 'invoices must hold at least one invoice.' },
  { name: 'one invoice number twice', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: [b.invoices[0], b.invoices[0]] })), status: 422, code: 'invalid', detail: 'invoices name the same number twice.' },
  { name: '1,001 invoices', method: 'POST', path: '/v1/plans', body: create((b) => ({ ...b, invoices: Array.from({ length: 1001 }, (_, i) => ({ ...b.invoices[0], number: `N-${i}` })) })), status: 422, code: 'invalid', detail: 'invoices may hold at most 1000 invoices.' },
  { name: 'an empty composite create', method: 'POST', path: '/v1/plans', body: {}, status: 422, code: 'invalid', detail: 'account is required.' },
  { name: 'a CSV with a NUL', method: 'POST', path: '/v1/imports', body: importCsvText([{ account: `HX-${run}-csv`, invoice: 'I\u00001' }]), headers: csv, status: 422, code: 'invalid', detail: 'Line 2: invoice_number contains a NUL character.' },
  { name: 'a CSV that is not UTF-8', method: 'POST', path: '/v1/imports', body: new Uint8Array([...Buffer.from(importCsvText([{ account: `HX-${run}-csv`, invoice: 'I-1' }])), 0xff, 0xfe]), headers: csv, status: 422, code: 'invalid', detail: 'The CSV is not valid UTF-8 text.' },
  { name: 'a CSV issued in the year 0', method: 'POST', path: '/v1/imports', body: importCsvText([{ account: `HX-${run}-csv`, invoice: 'I-1', issuedOn: '0000-01-01' }]), headers: csv, status: 422, code: 'invalid', detail: 'Line 2: issued_on is not a real date (YYYY-MM-DD).' },
  { name: 'a CSV without its columns', method: 'POST', path: '/v1/imports', body: 'account_id,amount\nA,1\n', headers: csv, status: 422, code: 'invalid', detail: 'The CSV header lacks columns account_name, contact_name, contact_email, timezone, currency, invoice_number, issued_on, due_on.' },
  { name: 'a CSV with an unknown currency', method: 'POST', path: '/v1/imports', body: importCsvText([{ account: `HX-${run}-csv`, invoice: 'I-1' }]).replace(',EUR,', ',XYZ,'), headers: csv, status: 422, code: 'invalid', detail: 'Line 2: currency is not an ISO 4217 code like USD or EUR.' },
];
created.push(`HX-${run}-csv`);

beforeAll(async () => {
  h = await startApiHarness('http-hostile');
  await setPolicy(h.ctx, { policy: secondsPolicy(policy, { upcoming_notice: 3600, manual_escalation: 7200 }) });
  const made = await h.call('POST', '/v1/plans', { body: { ...compositePlan(target.acct), initiate: { policy } } });
  expect(made.status).toBe(201);
  await h.untilBegun(target.planId);
});
afterAll(async () => {
  await h?.close();
});

/** One sentence: a capital or a field name first, a period last, no second sentence, no internals. */
function expectOneSentence(detail: string) {
  expect(detail).toMatch(/^\S.*\.$/s);
  expect(detail).not.toMatch(/\n/);
  expect(detail).not.toMatch(/\.\s+[A-Z]/);
  expect(detail.length).toBeLessThan(300);
  expect(detail).not.toMatch(/Unexpected|ZodError|Invalid input|Too (big|small)|expected .* received|\bat .*\.ts:\d|SyntaxError|TypeError|postgres|\bselect\b|\binsert\b|syntax error|relation|violates|undefined|\[object Object\]/i);
}

describe('hostile requests', () => {
  it('are at least 40', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it.each(cases)('refuses $name', async ({ method, path, body, headers, as, status, code, detail }) => {
    const before = await rowCounts(h.ctx, scope());
    const answer = await h.call(method, path, { as: as ?? 'ops', body, headers });
    expect({ status: answer.status, code: answer.body?.code }, answer.text.slice(0, 400)).toEqual({ status, code });
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    expect(Object.keys(answer.body).sort()).toEqual(expect.arrayContaining(['code', 'detail', 'status', 'title', 'type']));
    expect(answer.body).toMatchObject({ type: `urn:dunning:problem:${code}`, status, code, title: expect.any(String) });
    expectOneSentence(answer.body.detail);
    if (typeof detail === 'string') expect(answer.body.detail).toBe(detail);
    else if (detail) expect(answer.body.detail).toMatch(detail);
    expect(await rowCounts(h.ctx, scope())).toEqual(before);
  });

  it('stores SQL-looking free text as text: the tables are all still there', async () => {
    const reason = "'; drop table collection_plans; --";
    const escalated = await h.call('POST', plans('/escalations'), { as: 'rep', body: { reason } });
    expect(escalated.status).toBe(201);
    const view = await h.call('GET', plans(), { as: 'rep' });
    expect(view.body.tasks).toEqual(expect.arrayContaining([expect.objectContaining({ id: escalated.body.taskId, reason })]));
    const listed = await h.call('GET', `/v1/plans?accountId=${encodeURIComponent(reason)}`);
    expect(listed.body).toEqual({ data: [], nextCursor: null });
    const tables = ['accounts', 'contacts', 'invoices', 'collection_plans', 'collection_plan_items', 'payments', 'tasks', 'timeline_events', 'dunning_policies', 'api_keys'];
    for (const table of tables) {
      const [row] = (await h.ctx.db.execute(sql`select to_regclass(${`public.${table}`})::text as name`)) as unknown as [{ name: string | null }];
      expect(row.name, table).toBe(table);
    }
  });

  it('fails, not hangs, when the database refuses a row the rules let through, and keeps its connection', async () => {
    // Every door refuses a NUL; this row skips the doors, as a rule missing tomorrow would.
    const acct = `HX-${run}-copy`;
    const row = { line: 2, accountId: acct, accountName: 'Nul\u0000Ltd', contactName: 'Pat', contactEmail: 'pat@example.com', timezone: 'Etc/UTC', currency: 'USD', invoiceNumber: 'I-1', amountMinor: 100, issuedOn: '2026-10-01', dueOn: '2026-11-01' };
    const outcome = await Promise.race([
      importRows(h.ctx.db, [row]).then(
        () => 'written',
        (err: unknown) => `refused: ${String(err)}`,
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve('still pending after 15 s'), 15_000).unref()),
    ]);
    expect(outcome).toMatch(/^refused: .*0x00/);
    // The transaction rolled back and its connection came back: the pool (max 4) still answers.
    for (let i = 0; i < 8; i++) expect(await rowCounts(h.ctx, { accounts: [acct] })).toMatchObject({ accounts: 0, invoices: 0, plans: 0 });
  });
});
