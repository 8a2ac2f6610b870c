// Intl formatters are costly to build and immutable: one per locale, zone and options, kept.
const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();

/** The formatter under `key`, built once; bounded however many locales and zones come by. */
export function cachedFormat<F extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, build: () => F): F {
  let f = formatters.get(key) as F | undefined;
  if (!f) {
    if (formatters.size > 500) formatters.clear();
    f = build();
    formatters.set(key, f);
  }
  return f;
}
