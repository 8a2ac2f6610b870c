// Reading counters from a Prometheus endpoint (the SDK's, or a Temporal service's), for the
// benches' before-and-after figures.

/**
 * Scrapes `url` and sums, for each name in `wanted`, the samples whose line matches its pattern
 * and carries `label` (e.g. `task_queue="dunning"`), over every other label.
 */
export async function sumCounters<K extends string>(url: string, label: string, wanted: Record<K, RegExp>): Promise<Record<K, number>> {
  const text = await (await fetch(url)).text();
  const entries = Object.entries(wanted) as Array<[K, RegExp]>;
  const out = Object.fromEntries(entries.map(([k]) => [k, 0])) as Record<K, number>;
  for (const line of text.split('\n')) {
    if (!line.includes(label)) continue;
    for (const [k, re] of entries) if (re.test(line)) out[k] += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

/** What each counter grew by from `a` to `b`. */
export const counterDelta = <K extends string>(a: Record<K, number>, b: Record<K, number>): Record<K, number> =>
  Object.fromEntries(Object.entries<number>(b).map(([k, v]) => [k, v - (a[k as K] ?? 0)])) as Record<K, number>;
