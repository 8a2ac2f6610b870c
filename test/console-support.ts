// The rep console as its HTTP tests drive it: a browser's view (the session cookie it was given,
// sent back on every request) over the app `dunning api` serves, and a sign-in with a key.
import { expect } from 'vitest';
import { SESSION_COOKIE } from '../client/console/routes';
import type { ApiHarness } from './http-support';

export interface Page {
  status: number;
  headers: Headers;
  html: string;
}

export function consoleBrowser(api: ApiHarness['api']) {
  let cookie: string | undefined;
  async function send(method: string, path: string, form?: Record<string, string>): Promise<Page> {
    const headers: Record<string, string> = cookie ? { cookie: `${SESSION_COOKIE}=${cookie}` } : {};
    let body: string | undefined;
    if (form) {
      body = new URLSearchParams(form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await api.request(path, { method, headers, body });
    const set = res.headers.get('set-cookie');
    const value = set && new RegExp(`^${SESSION_COOKIE}=([^;]*)`).exec(set)?.[1];
    if (value !== undefined && value !== null) cookie = value || undefined;
    return { status: res.status, headers: res.headers, html: await res.text() };
  }
  return {
    get: (path: string) => send('GET', path),
    post: (path: string, form: Record<string, string>) => send('POST', path, form),
    get cookie() {
      return cookie;
    },
    /** The CSRF token the signed-in page's forms carry. */
    csrfOf: (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '',
  };
}

/** A browser signed in with `key`, sent on to the worklist. */
export async function signedInConsole(api: ApiHarness['api'], key: string) {
  const b = consoleBrowser(api);
  const res = await b.post('/sign-in', { key });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/');
  return b;
}
