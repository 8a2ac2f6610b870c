// The rep console's pages as Hono JSX: plain HTML forms that work without script, labelled
// fields, one sentence for every refusal.
import type { Child } from 'hono/jsx';
import { raw } from 'hono/html';
import { chartStyle } from './charts';
import { money, words } from './format';
import type { ApiKeyRole } from '../../db/schema';
import { planStatuses, taskKinds } from '../../workflows/domain/statuses';
import { priorityRule, type Worklist, type WorklistFilter } from '../worklist';

const style = `
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem; color: #1b1b1b; }
header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
nav.console-nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
nav.console-nav a[aria-current="page"] { font-weight: 600; text-decoration: none; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #ddd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
form.filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin: 1rem 0; }
label { display: flex; flex-direction: column; font-size: .9rem; }
.refusal { color: #a00000; font-weight: 600; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
:focus-visible { outline: 3px solid #0b5fff; outline-offset: 2px; }
h2 { margin-top: 2rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; } dl.facts dd { margin: 0; }
.actions { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 1rem; align-items: stretch; }
form.action fieldset { display: flex; flex-direction: column; gap: .5rem; box-sizing: border-box; margin: 0; }
.actions form.action fieldset { height: 100%; }
form.action .field { display: flex; flex-direction: column; gap: .15rem; font-size: .9rem; }
form.action input, form.action select { max-width: 100%; box-sizing: border-box; }
form.action table input { width: 100%; }
form.action button { align-self: flex-start; }
ul.tasks form.action { margin: .5rem 0 1rem; }
ul.tasks form.action fieldset { flex-direction: row; flex-wrap: wrap; align-items: end; }
.notice { background: #e8f4ea; border-left: 4px solid #1d7a35; padding: .5rem .75rem; }
.warning { background: #fdf0e6; border-left: 4px solid #a04a00; padding: .5rem .75rem; }
${chartStyle}`;

/** Where the console serves htmx from (node_modules, by the console's routes). */
export const HTMX_PATH = '/assets/htmx.min.js';

/** Who is signed in: their key's name and role, their forms' CSRF token, the zone times are written in. */
export interface SignedInAs {
  name: string;
  role: ApiKeyRole;
  csrfToken: string;
  timeZone: string;
}

/** The console's pages a role may open: reports are for ops only, as over the API. */
const consolePages = [
  { key: 'worklist', href: '/', label: 'Worklist', roles: ['rep', 'ops'] },
  { key: 'reports', href: '/reports', label: 'Reports', roles: ['ops'] },
] as const satisfies ReadonlyArray<{ key: string; href: string; label: string; roles: readonly ApiKeyRole[] }>;
export type ConsolePage = (typeof consolePages)[number]['key'];

/** Links to the pages this role may open; none when there is only the worklist (a rep's plan pages link back to it). */
function ConsoleNav(props: { role: ApiKeyRole; current?: ConsolePage }) {
  const open = consolePages.filter((p) => (p.roles as readonly ApiKeyRole[]).includes(props.role));
  if (open.length < 2) return null;
  return (
    <nav aria-label="Console" class="console-nav">
      <ul>
        {open.map((p) => (
          <li>
            <a href={p.href} aria-current={props.current === p.key ? 'page' : undefined}>
              {p.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/**
 * htmx swaps every answer into the page, refusals (4xx) included: a refused form comes back
 * as the page with the plan's sentence beside it, not as nothing.
 */
const htmxConfig = JSON.stringify({ responseHandling: [{ code: '204', swap: false }, { code: '...', swap: true }], scrollIntoViewOnBoost: false });

export function Layout(props: { title: string; signedInAs?: SignedInAs; current?: ConsolePage; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · Dunning console</title>
        <meta name="htmx-config" content={htmxConfig} />
        {/* No icon yet: an empty one, so browsers do not ask for /favicon.ico (a 404 in their console). */}
        <link rel="icon" href="data:," />
        <style>{style}</style>
        <script src={HTMX_PATH} defer></script>
      </head>
      {/* Links and forms load in place (htmx boost); without script they work as plain HTML. */}
      <body hx-boost="true">
        <header>
          <h1>{props.title}</h1>
          {props.signedInAs && <ConsoleNav role={props.signedInAs.role} current={props.current} />}
          {props.signedInAs && (
            /* Signing in or out loads a whole new page (another session, another header): not boosted. */
            <form method="post" action="/sign-out" hx-boost="false">
              <input type="hidden" name="csrf" value={props.signedInAs.csrfToken} />
              <span>
                Signed in as {props.signedInAs.name} ({props.signedInAs.timeZone}){' '}
              </span>
              <button type="submit">Sign out</button>
            </form>
          )}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

export function SignInPage(props: { refusal?: string }) {
  return (
    <Layout title="Sign in">
      <form method="post" action="/sign-in" hx-boost="false">
        <p>
          <label for="key">
            API key (a rep or ops key from <code>dunning apikey create</code>)
            <input id="key" name="key" type="password" autocomplete="off" required autofocus size={60} aria-describedby={props.refusal ? 'refusal' : undefined} />
          </label>
        </p>
        <p>
          <label for="timeZone">
            Your time zone (times are shown in it)
            <select id="timeZone" name="timeZone">
              {timeZones.map((zone) => (
                <option value={zone} selected={zone === 'UTC'}>
                  {zone}
                </option>
              ))}
            </select>
          </label>
        </p>
        {/* Preselects the browser's own zone; without script the rep picks it. */}
        <script>{raw(`(function(){var z=Intl.DateTimeFormat().resolvedOptions().timeZone;var s=document.getElementById('timeZone');if(z&&s.querySelector('option[value="'+z+'"]'))s.value=z;})();`)}</script>
        {props.refusal && (
          <p id="refusal" class="refusal" role="alert">
            {props.refusal}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
    </Layout>
  );
}

export function RefusalPage(props: { title: string; sentence: string }) {
  return (
    <Layout title={props.title}>
      <p class="refusal" role="alert">
        {props.sentence}
      </p>
      <p>
        <a href="/">Back to the worklist</a>
      </p>
    </Layout>
  );
}

/** Every IANA zone this Node knows, UTC first. */
const timeZones = ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')];

/** The query string of the current filters, with `changes` applied (undefined removes one). */
function hrefWith(filter: WorklistFilter, changes: Partial<Record<'taskKind' | 'status' | 'currency' | 'search' | 'cursor', string | undefined>>): string {
  const params = new URLSearchParams();
  const merged = { taskKind: filter.taskKind, status: filter.status, currency: filter.currency, search: filter.search, ...changes };
  for (const [k, v] of Object.entries(merged)) if (v) params.set(k, v);
  const q = params.toString();
  return q ? `/?${q}` : '/';
}

export function WorklistPage(props: { list: Worklist; filter: WorklistFilter; signedInAs: SignedInAs }) {
  const { list, filter } = props;
  const filtered = Boolean(filter.taskKind || filter.status || filter.currency || filter.search);
  return (
    <Layout title="Worklist" signedInAs={props.signedInAs} current="worklist">
      <p id="priority">{priorityRule}</p>
      <nav aria-label="Queues">
        <ul>
          {taskKinds.map((kind) => (
            <li>
              <a href={hrefWith(filter, { taskKind: kind, cursor: undefined })} aria-current={filter.taskKind === kind ? 'page' : undefined}>
                {words(kind)}
              </a>{' '}
              <span data-queue={kind}>{list.queues[kind]}</span>
            </li>
          ))}
        </ul>
      </nav>
      <form class="filters" method="get" action="/" role="search">
        <label for="search">
          Account name or id
          <input id="search" name="search" type="search" value={filter.search ?? ''} />
        </label>
        <label for="taskKind">
          Task kind
          <select id="taskKind" name="taskKind">
            <option value="">any</option>
            {taskKinds.map((k) => (
              <option value={k} selected={filter.taskKind === k}>
                {words(k)}
              </option>
            ))}
          </select>
        </label>
        <label for="status">
          Status
          <select id="status" name="status">
            <option value="">any</option>
            {planStatuses.map((s) => (
              <option value={s} selected={filter.status === s}>
                {words(s)}
              </option>
            ))}
          </select>
        </label>
        <label for="currency">
          Currency
          <input id="currency" name="currency" size={4} maxlength={3} pattern="[A-Za-z]{3}" value={filter.currency ?? ''} />
        </label>
        <button type="submit">Filter</button>
        {filtered && <a href="/">Clear filters</a>}
      </form>
      {list.rows.length === 0 ? (
        <p id="empty">
          {filtered
            ? 'No plan that needs a person matches these filters; clear them or search for another account.'
            : 'No plan needs a person right now: every open task is done. New escalations, broken promises and failed emails appear here as they happen.'}
        </p>
      ) : (
        <table>
          <caption class="visually-hidden">Plans that need a person, highest priority first</caption>
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Status</th>
              <th scope="col">Open tasks</th>
              <th scope="col">Owed</th>
              <th scope="col">Days past due</th>
              <th scope="col">Plan</th>
            </tr>
          </thead>
          <tbody>
            {list.rows.map((r) => (
              <tr data-plan={r.planId}>
                <td>
                  {r.accountName} <small>({r.accountId})</small>
                </td>
                <td>{words(r.status)}</td>
                <td>{r.taskKinds.map(words).join(', ')}</td>
                <td class="num">{money(r.owedMinor, r)}</td>
                <td class="num">{r.daysPastDue}</td>
                <td>
                  <a href={`/plans/${encodeURIComponent(r.planId)}`}>{r.planId}</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.nextCursor && (
        <p>
          <a rel="next" href={hrefWith(filter, { cursor: list.nextCursor })}>
            Next page
          </a>
        </p>
      )}
    </Layout>
  );
}
