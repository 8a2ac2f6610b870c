// The HTTP API on the real test stack, as its suites drive it: the app `dunning api` serves,
// a key per role, `call` (every answer checked against the committed OpenAPI document) and the
// row counts that show a refused request wrote nothing.
import { sql } from 'drizzle-orm';
import { createApiKey } from '../client/api-keys';
import type { DunningContext } from '../client/context';
import { createApi } from '../client/http/app';
import { planStatus } from '../client/status';
import { eventually } from './fixtures';
import { contractViolations } from './openapi-contract';
import { startTestStack, type TestStack } from './support';
import type { Mailer } from '../activities/mail';

export type Role = 'billing' | 'rep' | 'ops';
export const roles: readonly Role[] = ['billing', 'rep', 'ops'];

export interface CallOptions {
  /** A role's key, another key as given, or null for no Authorization header (default: billing). */
  as?: Role | string | null;
  /** A string or bytes go as they are; anything else as JSON with `content-type: application/json`. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  /** The body as JSON when it is JSON, else its text (undefined when empty). */
  body: any;
  text: string;
}

export interface ApiHarness {
  stack: TestStack;
  ctx: DunningContext;
  api: ReturnType<typeof createApi>;
  keys: Record<Role, string>;
  /** Sends a request; an answer the OpenAPI document does not allow fails the test. */
  call(method: string, path: string, opts?: CallOptions): Promise<ApiAnswer>;
  /** Waits until an initiated plan's journey has written its steps and first timeline entry. */
  untilBegun(planId: string): Promise<void>;
  close(): Promise<void>;
}

export async function startApiHarness(label: string, opts: { mailer?: Mailer } = {}): Promise<ApiHarness> {
  const stack = await startTestStack(label, opts);
  const ctx: DunningContext = { client: stack.client, db: stack.db.db, config: stack.config };
  const api = createApi({ ctx, rateLimit: { perSecond: 10_000, burst: 10_000 } });
  const keys = { billing: '', rep: '', ops: '' };
  for (const role of roles) keys[role] = (await createApiKey(ctx, { name: `test ${role}`, role })).key;

  async function call(method: string, path: string, opts: CallOptions = {}): Promise<ApiAnswer> {
    const key = opts.as === undefined ? keys.billing : opts.as === null ? undefined : opts.as in keys ? keys[opts.as as Role] : opts.as;
    const headers: Record<string, string> = { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...opts.headers };
    let body: string | Uint8Array | undefined;
    if (typeof opts.body === 'string' || opts.body instanceof Uint8Array) body = opts.body;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    // As a client over the network sends it: the door reads a request without a length as one without a body.
    if (body !== undefined) headers['content-length'] ??= String(Buffer.byteLength(body));
    const res = await api.request(path, { method, headers, body: body as RequestInit['body'] });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const answer: ApiAnswer = { status: res.status, headers: res.headers, text, body: text && /json/.test(type) ? JSON.parse(text) : text || undefined };
    const violations = contractViolations(method, path, answer);
    if (violations.length) throw new Error(`${method} ${path} → ${answer.status} breaks the OpenAPI document:\n  ${violations.join('\n  ')}\n${text.slice(0, 500)}`);
    return answer;
  }

  async function untilBegun(planId: string): Promise<void> {
    await eventually(async () => {
      const view = await planStatus(ctx, { planId });
      return view.status !== 'not_started' && view.steps.length > 0 && view.timeline.length > 0 ? true : undefined;
    }, `the journey of ${planId} to begin`);
  }

  return { stack, ctx, api, keys, call, untilBegun, close: () => stack.close() };
}

/** A composite create as a billing system sends it, one contact, invoices due 2026-11-01. */
export function compositePlan(acct: string, invoices: Array<{ number: string; amountMinor: number }> = [{ number: `${acct}-1`, amountMinor: 50_000 }]) {
  return {
    account: { id: acct, name: 'Acme Anvils Ltd', timezone: 'America/Phoenix', currency: 'USD', locale: 'en-US' },
    contacts: [{ name: 'Wile Coyote', email: `wile+${acct.toLowerCase()}@acme.test`, emailConsent: 'opted_in' as const }],
    invoices: invoices.map((i) => ({ ...i, issuedOn: '2026-10-01', dueOn: '2026-11-01' })),
  };
}

/** A CSV as `dunning import` reads it, one row per invoice. */
export function importCsvText(rows: Array<{ account: string; invoice: string; amount?: string; dueOn?: string; issuedOn?: string; timezone?: string }>): string {
  const header = 'account_id,account_name,contact_name,contact_email,timezone,currency,invoice_number,amount,issued_on,due_on';
  const lines = rows.map(
    (r) =>
      `${r.account},Account ${r.account},Pat Payer,pat+${r.account.toLowerCase()}@example.com,${r.timezone ?? 'Europe/Berlin'},EUR,${r.invoice},${r.amount ?? '100.00'},${r.issuedOn ?? '2026-10-01'},${r.dueOn ?? '2026-11-01'}`,
  );
  return `${header}\n${lines.join('\n')}\n`;
}

/** `(a, b, …)` for `in`; `(null)` matches nothing when the list is empty. */
function inList(values: string[]) {
  if (values.length === 0) return sql`(null)`;
  return sql`(${sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )})`;
}

/**
 * How many rows every table a request could write holds for these accounts (and their plans),
 * policies, webhook URLs and segmentation rule names (the rules versions holding a rule of that
 * name): the same numbers before and after a refusal show it wrote nothing.
 */
export async function rowCounts(
  ctx: Pick<DunningContext, 'db'>,
  scope: { accounts: string[]; policies?: string[]; webhookUrls?: string[]; segmentRules?: string[] },
): Promise<Record<string, number>> {
  const accounts = inList(scope.accounts);
  const policies = inList(scope.policies ?? []);
  const webhooks = inList(scope.webhookUrls ?? []);
  const plans = sql`(select id from collection_plans where account_id in ${accounts})`;
  const [row] = (await ctx.db.execute(sql`select
    (select count(*) from accounts where id in ${accounts})::int as accounts,
    (select count(*) from contacts where account_id in ${accounts})::int as contacts,
    (select count(*) from contacts where account_id in ${accounts} and email_consent = 'opted_out')::int as "optedOut",
    (select count(*) from invoices where account_id in ${accounts})::int as invoices,
    (select coalesce(sum(open_minor), 0) from invoices where account_id in ${accounts})::int as "openMinor",
    (select count(*) from collection_plans where account_id in ${accounts})::int as plans,
    (select count(*) from collection_plans where account_id in ${accounts} and workflow_id is not null)::int as "initiatedPlans",
    (select count(*) from collection_plan_items where plan_id in ${plans})::int as "planItems",
    (select count(*) from orchestration_steps where plan_id in ${plans})::int as steps,
    (select count(*) from payments where plan_id in ${plans})::int as payments,
    (select count(*) from payment_promises where plan_id in ${plans})::int as promises,
    (select count(*) from tasks where plan_id in ${plans})::int as tasks,
    (select count(*) from timeline_events where plan_id in ${plans})::int as timeline,
    (select count(*) from dunning_policies where name in ${policies})::int as policies,
    (select coalesce(sum(version), 0) from dunning_policies where name in ${policies})::int as "policyVersions",
    (select count(*) from webhook_endpoints where url in ${webhooks})::int as webhooks,
    (select count(*) from webhook_endpoints where url in ${webhooks} and status = 'enabled')::int as "webhooksEnabled",
    (select count(*) from webhook_endpoints where url in ${webhooks} and previous_secret_ciphertext is not null)::int as "webhooksRotated",
    (select count(*) from webhook_attempts a join webhook_endpoints w on w.id = a.endpoint_id where w.url in ${webhooks})::int as "webhookAttempts",
    (select count(*) from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id where w.url in ${webhooks} and d.status = 'pending')::int as "webhookOwed",
    (select count(*) from webhook_endpoint_events e join webhook_endpoints w on w.id = e.endpoint_id where w.url in ${webhooks})::int as "webhookTimeline",
    (select count(*) from segmentation_rules s where exists (select 1 from jsonb_array_elements(s.definition->'rules') r
      where r->>'name' in ${inList(scope.segmentRules ?? [])}))::int as "segmentRules"`)) as unknown as [Record<string, number>];
  return row;
}
