// `dunning report aging|promises|recovery|steps` and `dunning forecast`: a table for people, the
// data as JSON with --json, or CSV with --csv (money as integer minor units there, for
// spreadsheets). The service checks names and filters, so the CLI and the HTTP API refuse alike.
import { forecast, type Forecast } from '../forecast';
import { runReport, type Report } from '../reports';
import { args, CliError, optional, type Command } from './args';
import { money, table } from './output';
import { mailEmailsPerSecond } from '../../worker/config';

const noRep = '—';
export const rate = (r: number | null) => (r === null ? '—' : `${(r * 100).toFixed(1)} %`);
const days = (d: number | null) => (d === null ? '—' : d.toFixed(2));
const csvRate = (r: number | null) => (r === null ? '' : String(r));
const inCurrency = (minor: number, currency: string) => money(minor, { currency, locale: 'en-US' });
const version = (v: number | null, raw: boolean) => (v === null ? (raw ? '' : '—') : raw ? String(v) : `v${v}`);

/** The report as rows, the header first: formatted for the terminal, or raw for CSV. */
export function reportRows(report: Report, style: 'table' | 'csv'): string[][] {
  const raw = style === 'csv';
  switch (report.report) {
    case 'aging':
      return [
        raw
          ? ['currency', 'plans', 'not_due_minor', 'days_1_30_minor', 'days_31_60_minor', 'days_61_90_minor', 'over_90_minor', 'total_minor']
          : ['CURRENCY', 'PLANS', 'NOT YET DUE', '1–30', '31–60', '61–90', '90+', 'TOTAL'],
        ...report.rows.map((r) => [
          r.currency,
          String(r.plans),
          ...[r.notDueMinor, r.days1to30Minor, r.days31to60Minor, r.days61to90Minor, r.over90Minor, r.totalMinor].map((m) => (raw ? String(m) : inCurrency(m, r.currency))),
        ]),
      ];
    case 'promises':
      return [
        raw ? ['rep', 'made', 'kept', 'broken', 'pending', 'kept_rate'] : ['REP', 'MADE', 'KEPT', 'BROKEN', 'PENDING', 'KEPT RATE'],
        ...report.rows.map((r) => [r.rep ?? noRep, String(r.made), String(r.kept), String(r.broken), String(r.pending), raw ? csvRate(r.keptRate) : rate(r.keptRate)]),
      ];
    case 'recovery':
      return [
        raw
          ? ['policy', 'policy_version', 'currency', 'week', 'plans', 'entering_minor', 'recovered_minor', 'recovery_rate', 'resolved', 'median_days_to_resolve', 'p90_days_to_resolve']
          : ['POLICY', 'VERSION', 'CURRENCY', 'WEEK', 'PLANS', 'ENTERING', 'RECOVERED', 'RATE', 'RESOLVED', 'MEDIAN DAYS', 'P90 DAYS'],
        ...report.rows.map((r) => [
          r.policy,
          version(r.policyVersion, raw),
          r.currency,
          r.week ?? (raw ? '' : 'all weeks'),
          String(r.plans),
          raw ? String(r.enteringMinor) : inCurrency(r.enteringMinor, r.currency),
          raw ? String(r.recoveredMinor) : inCurrency(r.recoveredMinor, r.currency),
          raw ? csvRate(r.recoveryRate) : rate(r.recoveryRate),
          String(r.resolved),
          raw ? (r.medianDaysToResolve === null ? '' : String(r.medianDaysToResolve)) : days(r.medianDaysToResolve),
          raw ? (r.p90DaysToResolve === null ? '' : String(r.p90DaysToResolve)) : days(r.p90DaysToResolve),
        ]),
      ];
    case 'steps':
      return [
        raw
          ? ['policy', 'policy_version', 'currency', 'step', 'action', 'reached', 'plans_paid', 'plans_paid_in_full', 'amount_minor', 'paid_rate']
          : ['POLICY', 'VERSION', 'CURRENCY', 'STEP', 'ACTION', 'REACHED', 'PAID AFTER', 'IN FULL', 'AMOUNT', 'RATE'],
        ...report.rows.map((r) => [
          r.policy,
          version(r.policyVersion, raw),
          r.currency,
          r.step ?? (raw ? '' : 'before any step'),
          r.action ?? '',
          String(r.reached),
          String(r.plansPaid),
          String(r.plansPaidInFull),
          raw ? String(r.amountMinor) : inCurrency(r.amountMinor, r.currency),
          raw ? csvRate(r.paidRate) : rate(r.paidRate),
        ]),
      ];
  }
}

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
export function csv(rows: string[][]): string {
  return rows.map((r) => r.map((c) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')).join('\r\n');
}

const report: Command = async (argv, out, session) => {
  const { values, positionals } = args(
    argv,
    { policy: { type: 'string' }, currency: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, csv: { type: 'boolean' } },
    ['<report>'],
  );
  if (values.csv && out.json) throw new CliError('Choose one of --json and --csv.');
  const result = await runReport(await session.database(), {
    name: positionals[0]!,
    policy: optional(values.policy),
    currency: optional(values.currency),
    from: optional(values.from),
    to: optional(values.to),
  });
  const rows = reportRows(result, values.csv ? 'csv' : 'table');
  if (values.csv) out.print(csv(rows), result);
  else out.print(rows.length > 1 ? table(rows) : `No figures for the ${result.report} report under these filters.`, result);
};

const count = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many: string) => `${count(n)} ${n === 1 ? one : many}`;

/** "10 min 17 s", "1 h 2 min", rounded to the second; "under a second" below one. */
export function durationInWords(seconds: number): string {
  if (seconds < 1) return 'under a second';
  const s = Math.round(seconds);
  const parts = [[Math.floor(s / 3600), 'h'], [Math.floor((s % 3600) / 60), 'min'], [s % 60, 's']] as const;
  return parts
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${count(n)} ${unit}`)
    .join(' ');
}

/** The forecast as rows, the header first: counts grouped for the terminal, raw for CSV. */
export function forecastRows(f: Forecast, style: 'table' | 'csv'): string[][] {
  const raw = style === 'csv';
  const n = (v: number) => (raw ? String(v) : count(v));
  return [raw ? ['date', 'emails', 'tasks'] : ['DATE (UTC)', 'EMAILS', 'TASKS'], ...f.days.map((d) => [d.date, n(d.emails), n(d.tasks)])];
}

/** The table, its totals, the busiest day's drain time in words, and the plans left out. */
export function forecastText(f: Forecast): string {
  const first = f.days[0]!.date;
  const last = f.days[f.days.length - 1]!.date;
  const rows = forecastRows(f, 'table');
  const lines = [
    `Emails and tasks due per day, ${first} to ${last}. Days are UTC calendar days; each email is placed in its contact's send window.`,
    '',
    table([...rows, ['TOTAL', count(f.totals.emails), count(f.totals.tasks)]]),
    '',
    busiestDaySentence(f),
  ];
  const held = leftOutSentence(f);
  if (held) lines.push(held);
  return lines.join('\n');
}

/** The busiest day and how long its emails take to send, in a sentence. */
export function busiestDaySentence(f: Forecast): string {
  return f.busiestDay
    ? `The busiest day, ${f.busiestDay.date}, has ${plural(f.busiestDay.emails, 'email', 'emails')}: about ${durationInWords(f.drainSeconds)} to send at ${count(f.ratePerSecond)} per second.`
    : `No emails are due in these ${plural(f.days.length, 'day', 'days')}: the mail queue has nothing to drain.`;
}

/** The plans the forecast leaves out, in a sentence; undefined when there are none. */
export function leftOutSentence(f: Forecast): string | undefined {
  const { paused, promised } = f.leftOut;
  if (paused + promised === 0) return undefined;
  const held = [paused && plural(paused, 'paused plan', 'paused plans'), promised && plural(promised, 'plan under a promise', 'plans under a promise')].filter(Boolean);
  return `Not counted: ${held.join(' and ')}; they send nothing until the pause or the promise ends.`;
}

const forecastCommand: Command = async (argv, out, session) => {
  const { values } = args(argv, { days: { type: 'string' }, policy: { type: 'string' }, currency: { type: 'string' }, csv: { type: 'boolean' } }, []);
  if (values.csv && out.json) throw new CliError('Choose one of --json and --csv.');
  const result = await forecast(await session.database(), {
    days: optional(values.days),
    policy: optional(values.policy),
    currency: optional(values.currency),
    ratePerSecond: mailEmailsPerSecond(session.config().mail),
  });
  out.print(values.csv ? csv(forecastRows(result, 'csv')) : forecastText(result), result);
};

export const reportCommands: Record<string, Command> = { report, forecast: forecastCommand };
