// What commands print: a sentence or a table for people, the same data as JSON with --json.
import path from 'node:path';
import { formatMoney } from '../../workflows/domain/money';
import { utcMinute } from '../../workflows/domain/time';

export interface Output {
  json: boolean;
  print(human: string, machine: unknown): void;
}

export function consoleOutput(json: boolean): Output {
  return { json, print: (human, machine) => console.log(json ? JSON.stringify(machine, null, 2) : human) };
}

/** Money as the plan's account writes it ("$1,234.56", "1.234,56 €"). */
export function money(minor: number, terms: { currency: string; locale: string }): string {
  return formatMoney(minor, terms.currency, terms.locale);
}

/** An instant to the minute in UTC, or a dash for none. */
export function when(iso: string | null | undefined): string {
  return iso ? utcMinute(iso) : '—';
}

/** Columns padded to their widest cell; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** A path as a person types it: relative to the working directory when inside it, else absolute. */
export function shownPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
}
