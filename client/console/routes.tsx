// The rep console's routes on the API's Hono app: sign in with a rep or ops key (a session
// cookie, never the key), sign out, the worklist. Every POST but the sign-in itself carries the
// session's CSRF token; every request checks the session's key again.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { timingSafeEqual } from 'node:crypto';
import { authenticateApiKey } from '../../db/api-keys';
import { closeConsoleSession, openConsoleSession, readConsoleSession, type ConsoleSession } from '../../db/console-sessions';
import type { ApiKeyRole } from '../../db/schema';
import type { PlanStatus, TaskKind } from '../../workflows/domain/statuses';
import { isValidTimeZone } from '../../workflows/domain/calendar';
import { DunningError } from '../errors';
import type { ApiEnv } from '../http/auth';
import { worklist, type WorklistFilter } from '../worklist';
import { planStatus } from '../status';
import { PlanPage, RefusalPage, SignInPage, WorklistPage } from './pages';

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
  for (const path of ['/', '/sign-in', '/sign-out', '/plans/*']) pages.use(path, pageHeaders, formLimit);

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
    const signedInAs = { name: c.var.session.name, csrfToken: c.var.session.csrfToken };
    try {
      const list = await worklist(c.var.ctx, filter);
      return c.html(<WorklistPage list={list} filter={filter} signedInAs={signedInAs} />);
    } catch (err) {
      if (err instanceof DunningError) return c.html(<RefusalPage title="Worklist" sentence={err.message} />, 400);
      throw err;
    }
  });

  pages.get('/plans/:planId', signedIn(), async (c) => {
    const signedInAs = { name: c.var.session.name, csrfToken: c.var.session.csrfToken };
    try {
      const plan = await planStatus(c.var.ctx, { planId: c.req.param('planId') });
      return c.html(<PlanPage plan={plan} signedInAs={signedInAs} />);
    } catch (err) {
      if (err instanceof DunningError) return c.html(<RefusalPage title="Plan" sentence={err.message} />, err.code === 'unknown_plan' ? 404 : 400);
      throw err;
    }
  });
}
