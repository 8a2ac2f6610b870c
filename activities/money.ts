// Money at the edges: decimals in the plan's currency on the command line, integer minor
// units everywhere else.
const digitsCache = new Map<string, number | undefined>();
const knownCurrencies = new Set(Intl.supportedValuesOf('currency'));

/** Minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, BHD 3); undefined if unknown. */
export function currencyDigits(code: string): number | undefined {
  const upper = code.toUpperCase();
  if (!digitsCache.has(upper)) {
    digitsCache.set(
      upper,
      knownCurrencies.has(upper)
        ? new Intl.NumberFormat('en', { style: 'currency', currency: upper }).resolvedOptions().maximumFractionDigits
        : undefined,
    );
  }
  return digitsCache.get(upper);
}

export type ParsedMoney = { ok: true; minor: number } | { ok: false; reason: string };

/** "120.50" in USD → 12050. Refuses signs, exponents, thousands separators and extra decimals. */
export function parseMoney(text: string, currency: string): ParsedMoney {
  const digits = currencyDigits(currency);
  if (digits === undefined) return { ok: false, reason: `has an unknown currency "${currency}"` };
  const t = text.trim();
  if (t.startsWith('-')) return { ok: false, reason: `"${text}" is negative` };
  const m = /^(\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) return { ok: false, reason: `"${text}" is not a decimal number like 120.50` };
  const fraction = m[2] ?? '';
  if (fraction.length > digits) return { ok: false, reason: `"${text}" has more than ${digits} decimal places for ${currency.toUpperCase()}` };
  const minor = Number(m[1]) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
  if (!Number.isSafeInteger(minor) || minor > 1e15) return { ok: false, reason: `"${text}" is too large` };
  return { ok: true, minor };
}
