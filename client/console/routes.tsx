// The rep console's routes on the API's Hono app: sign in with a rep or ops key (a session
// cookie, never the key), sign out, the worklist. Every POST but the sign-in itself carries the
// session's CSRF token; every request checks the session's key again.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { authenticateApiKey } from '../../db/api-keys';
import { closeConsoleSession, openConsoleSession, readConsoleSession, type ConsoleSession } from '../../db/console-sessions';
import type { ApiKeyRole } from '../../db/schema';
import type { PlanStatus, TaskKind } from '../../workflows/domain/statuses';
import { isValidTimeZone } from '../../workflows/domain/calendar';
import { DunningError } from '../errors';
import type { ApiEnv } from '../http/auth';
import { statusOfCode } from '../http/problems';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { worklist, type WorklistFilter } from '../worklist';
import { planDetail, timelineMark, timelineAfter } from '../plan-detail';
import { workflowUiUrl } from '../../worker/config';
import { consoleActions, type ActionInput } from './actions';
import { HTMX_PATH, RefusalPage, SignInPage, WorklistPage, type SignedInAs } from './pages';
import { PlanPage, type FormEcho } from './plan-page';
import { readForecast, readReports, ReportsPage } from './reports-page';
import { listPolicies } from '../policies';
import { listWebhooks } from '../webhooks';
import type { ReportFilter } from '../reports';

export const SESSION_COOKIE = 'dunning_session';

/** The roles that may sign in: billing systems talk to the API, not to a browser. */
const consoleRoles: readonly ApiKeyRole[] = ['rep', 'ops'];

type ConsoleEnv = ApiEnv & { Variables: ApiEnv['Variables'] & { session: ConsoleSession; sessionId: string } };

/** Constant-time comparison; lengths in bytes, as timingSafeEqual needs. */
function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A console form is a few fields: a bigger body is refused before it is read. */
const FORM_BODY_LIMIT = 64 * 1024;

/** Signed-in pages: without a live session a GET goes to the sign-in page and a POST is refused. */
function signedIn(): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const id = getCookie(c, SESSION_COOKIE);
    const session = id ? await readConsoleSession(c.var.ctx.db, id) : undefined;
    if (!id || !session) {
      if (id) deleteCookie(c, SESSION_COOKIE, { path: '/' });
      if (c.req.method === 'GET') return c.redirect('/sign-in', 303);
      return c.html(<RefusalPage title="Signed out" sentence="Your session has ended or its key was revoked; sign in again." />, 401);
    }
    c.set('session', session);
    c.set('sessionId', id);
    if (c.req.method === 'POST') {
      const form = await c.req.parseBody();
      const token = typeof form.csrf === 'string' ? form.csrf : '';
      if (!sameToken(token, session.csrfToken)) {
        return c.html(<RefusalPage title="Refused" sentence="The form was refused because it did not carry this session's security token; reload the page and send it again." />, 403);
      }
    }
    await next();
  };
}

function signInRefusal(c: Context, sentence: string) {
  return c.html(<SignInPage refusal={sentence} />, 401);
}

/** Text query parameters as the worklist filter; an empty field is no filter. */
function filterOf(c: Context): WorklistFilter {
  const q = (name: string) => c.req.query(name)?.trim() || undefined;
  return {
    taskKind: q('taskKind') as TaskKind | undefined,
    status: q('status') as PlanStatus | undefined,
    currency: q('currency'),
    search: q('search'),
    cursor: q('cursor'),
  };
}

/**
 * The reports' filters from the query; an empty field is no filter. Three letters are a currency
 * in whatever case (as on the worklist); anything else goes as typed, for the report to refuse.
 */
function reportFilterOf(c: Context): ReportFilter {
  const q = (name: string) => c.req.query(name)?.trim() || undefined;
  const currency = q('currency');
  return { policy: q('policy'), currency: currency && /^[a-z]{3}$/i.test(currency) ? currency.toUpperCase() : currency, from: q('from'), to: q('to') };
}

const signedInAs = (c: Context<ConsoleEnv>): SignedInAs => ({
  name: c.var.session.name,
  role: c.var.session.role,
  csrfToken: c.var.session.csrfToken,
  timeZone: c.var.session.timeZone,
});

/** The plan page, with a refused form's sentence and input, or a notice of what was just done. */
async function renderPlan(c: Context<ConsoleEnv>, opts: { echo?: FormEcho; notice?: string; status?: ContentfulStatusCode } = {}) {
  try {
    const plan = await planDetail(c.var.ctx, { planId: c.req.param('planId')! });
    const temporalUrl = workflowUiUrl(c.var.ctx.config, plan.workflowId);
    // A form answered in place: htmx keeps the plan's own address, not the form's action, in the bar.
    if (c.req.method === 'POST') c.header('HX-Replace-Url', `/plans/${encodeURIComponent(plan.planId)}`);
    return c.html(<PlanPage plan={plan} signedInAs={signedInAs(c)} echo={opts.echo} notice={opts.notice} temporalUrl={temporalUrl} />, opts.status ?? 200);
  } catch (err) {
    if (err instanceof DunningError) return c.html(<RefusalPage title="Plan" sentence={err.message} />, err.code === 'unknown_plan' ? 404 : 400);
    throw err;
  }
}


/**
 * What was just done travels across the redirect in the URL, signed with the session's CSRF
 * token, so a crafted link cannot make the page announce something that did not happen.
 */
const noticeSignature = (session: ConsoleSession, notice: string) => createHmac('sha256', session.csrfToken).update(notice).digest('base64url');

function noticeOf(c: Context<ConsoleEnv>): string | undefined {
  const notice = c.req.query('done');
  const signature = c.req.query('sig') ?? '';
  return notice && sameToken(signature, noticeSignature(c.var.session, notice)) ? notice : undefined;
}

export function consoleRoutes(app: OpenAPIHono<ApiEnv>): void {
  const pages = app as unknown as OpenAPIHono<ConsoleEnv>;

  // Pages are never framed (clickjacking of the action forms) nor cached (a signed-in page on a shared machine).
  const pageHeaders: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
    await next();
    c.header('x-frame-options', 'DENY');
    c.header('content-security-policy', "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'");
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'same-origin');
    c.header('cache-control', 'no-store');
  };
  const formLimit = bodyLimit({
    maxSize: FORM_BODY_LIMIT,
    onError: (c) => c.html(<RefusalPage title="Refused" sentence="The form is larger than 64 KB." />, 413),
  });
  for (const path of ['/', '/sign-in', '/sign-out', '/plans/*', '/reports']) pages.use(path, pageHeaders, formLimit);

  // htmx from node_modules, read once; the page names it by path, so a day's caching is safe enough.
  const htmx = readFileSync(createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js'), 'utf8');
  pages.get(HTMX_PATH, (c) => {
    c.header('cache-control', 'public, max-age=86400');
    c.header('x-content-type-options', 'nosniff');
    return c.body(htmx, 200, { 'content-type': 'text/javascript; charset=utf-8' });
  });

  pages.get('/sign-in', (c) => c.html(<SignInPage />));

  pages.post('/sign-in', async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.key === 'string' ? form.key.trim() : '';
    if (!token) return signInRefusal(c, 'Enter an API key; create one with `dunning apikey create --role rep`.');
    const timeZone = typeof form.timeZone === 'string' && form.timeZone.trim() ? form.timeZone.trim() : 'UTC';
    if (!isValidTimeZone(timeZone)) return signInRefusal(c, `"${timeZone}" is not an IANA time zone like Europe/Berlin.`);
    const key = await authenticateApiKey(c.var.ctx.db, token);
    if (!key) return signInRefusal(c, 'The API key is unknown or revoked.');
    if (!consoleRoles.includes(key.role)) return signInRefusal(c, `The ${key.role} role may not sign in to the console; it is for rep and ops keys.`);
    // A new sign-in in the same browser replaces its old session rather than leaving it live.
    const previous = getCookie(c, SESSION_COOKIE);
    if (previous) await closeConsoleSession(c.var.ctx.db, previous);
    const session = await openConsoleSession(c.var.ctx.db, key.id, timeZone);
    setCookie(c, SESSION_COOKIE, session.id, {
      httpOnly: true,
      sameSite: 'Lax',
      path: '/',
      maxAge: session.maxAgeSeconds,
      secure: new URL(c.req.url).protocol === 'https:',
    });
    return c.redirect('/', 303);
  });

  pages.post('/sign-out', signedIn(), async (c) => {
    await closeConsoleSession(c.var.ctx.db, c.var.sessionId);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/sign-in', 303);
  });

  pages.get('/', signedIn(), async (c) => {
    const filter = filterOf(c);
    try {
      const list = await worklist(c.var.ctx, filter);
      return c.html(<WorklistPage list={list} filter={filter} signedInAs={signedInAs(c)} />);
    } catch (err) {
      if (err instanceof DunningError) return c.html(<RefusalPage title="Worklist" sentence={err.message} />, 400);
      throw err;
    }
  });

  // Reports are for ops, as over the API: a rep is told so in a sentence (and has no link to here).
  pages.get('/reports', signedIn(), async (c) => {
    const { role } = c.var.session;
    if (role !== 'ops') return c.html(<RefusalPage title="Reports" sentence={`The ${role} role may not see the reports; they are for ops keys.`} />, 403);
    const filter = reportFilterOf(c);
    const policies = (await listPolicies(c.var.ctx)).map((p) => p.name);
    const disabledWebhooks = (await listWebhooks(c.var.ctx)).filter((e) => e.status === 'disabled');
    try {
      const [reports, upcoming] = await Promise.all([readReports(c.var.ctx, filter), readForecast(c.var.ctx, filter)]);
      return c.html(<ReportsPage reports={reports} forecast={upcoming} filter={filter} policies={policies} signedInAs={signedInAs(c)} disabledWebhooks={disabledWebhooks} />);
    } catch (err) {
      // The page is there; what cannot be used is the filter typed in its form.
      if (err instanceof DunningError) {
        return c.html(<ReportsPage reports={[]} filter={filter} policies={policies} signedInAs={signedInAs(c)} refusal={err.message} disabledWebhooks={disabledWebhooks} />, 422);
      }
      throw err;
    }
  });

  pages.get('/plans/:planId', signedIn(), (c) => renderPlan(c, { notice: noticeOf(c) }));

  /** Runs one of the plan page's forms: done → back to the page (303) with a notice; refused → the page with the sentence beside the form. */
  const act = (action: string, form: (c: Context<ConsoleEnv>, values: Record<string, string>) => string) =>
    async (c: Context<ConsoleEnv>) => {
      const body = await c.req.parseBody({ all: true });
      const values: Record<string, string> = {};
      const lists: Record<string, string[]> = {};
      for (const [name, value] of Object.entries(body)) {
        const all = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
        lists[name] = all;
        if (all[0] !== undefined) values[name] = all[0];
      }
      delete values.csrf;
      const planId = c.req.param('planId')!;
      const input: ActionInput = { planId, by: c.var.session.name, values, lists, taskId: c.req.param('taskId') };
      try {
        const mark = await timelineMark(c.var.ctx.db, planId);
        const result = await consoleActions[action]!(c.var.ctx, input);
        if ('again' in result) return renderPlan(c, { echo: result.again });
        // The journey answers before it has saved; wait (briefly) for its write so the page shows it.
        await timelineAfter(c.var.ctx.db, planId, mark);
        const query = new URLSearchParams({ done: result.done, sig: noticeSignature(c.var.session, result.done) });
        return c.redirect(`/plans/${encodeURIComponent(planId)}?${query}`, 303);
      } catch (err) {
        if (!(err instanceof DunningError)) throw err;
        const installments = (lists.installmentDate ?? []).map((date, i) => ({ date, amount: lists.installmentAmount?.[i] ?? '' }));
        return renderPlan(c, { echo: { form: form(c, values), values, installments, refusal: err.message }, status: statusOfCode[err.code] });
      }
    };
  pages.post('/plans/:planId/promise', signedIn(), act('promise', (_c, values) => (values.kind === 'installments' ? 'installments' : 'promise')));
  for (const action of ['pause', 'resume', 'hold', 'release', 'escalate', 'cancel'] as const) pages.post(`/plans/:planId/${action}`, signedIn(), act(action, () => action));
  pages.post('/plans/:planId/tasks/:taskId/complete', signedIn(), act('complete', (c) => `task-${c.req.param('taskId')}`));
}
