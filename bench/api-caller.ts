// The HTTP API as a billing system meets it: called over a real socket with Node's fetch
// (undici, connections kept alive), so a figure includes HTTP parsing, the key lookup,
// validation and JSON, not only the service call.

export interface ApiCall {
  status: number;
  body: unknown;
  /** From sending the request to having read the whole response body. */
  ms: number;
}

/**
 * Calls the API at `baseUrl` with one key. A response other than `expect` throws: a refused
 * request (a 429, a 500) must not count as a fast one.
 */
export function apiCaller(baseUrl: string, key: string) {
  return async (method: 'GET' | 'POST', path: string, opts: { body?: unknown; headers?: Record<string, string>; expect?: number } = {}): Promise<ApiCall> => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}`, ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const started = performance.now();
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    const ms = performance.now() - started;
    if (res.status !== (opts.expect ?? 200)) throw new Error(`bench: ${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined, ms };
  };
}
