// Money: integer minor units everywhere, decimals in the plan's currency only at the edges
// (command line in, messages and emails out).
import { cachedFormat } from './intl';

const digitsCache = new Map<string, number | undefined>();
let knownCurrencies: Set<string> | undefined;

/** Minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, BHD 3); undefined if unknown. */
export function currencyDigits(code: string): number | undefined {
  const upper = code.toUpperCase();
  if (!digitsCache.has(upper)) {
    knownCurrencies ??= new Set(Intl.supportedValuesOf('currency'));
    digitsCache.set(
      upper,
      knownCurrencies.has(upper)
        ? new Intl.NumberFormat('en', { style: 'currency', currency: upper }).resolvedOptions().maximumFractionDigits
        : undefined,
    );
  }
  return digitsCache.get(upper);
}

/** Minor units as a number in major units (12050 USD → 120.5), e.g. for a search attribute. */
export function toMajorUnits(minor: number, digits: number | undefined): number {
  return minor / 10 ** (digits ?? 2);
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

/**
 * "1500.50 EUR": plain arithmetic with the currency's digits, no locale data, for the
 * workflow's own messages (timeline, Temporal UI); emails and the CLI use formatMoney.
 */
export function formatMinor(minor: number, currency: string, digits: number | undefined): string {
  const d = digits ?? 2;
  return `${(minor / 10 ** d).toFixed(d)} ${currency}`;
}

/** "$1,500.50" / "1.500,50 €": the amount as the account's locale writes it. */
export function formatMoney(minor: number, currency: string, locale: string): string {
  const format = cachedFormat(`money ${locale} ${currency}`, () => new Intl.NumberFormat(locale, { style: 'currency', currency }));
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(minor / 10 ** digits);
}
