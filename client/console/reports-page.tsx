// The console's reports page, for ops: every report `runReport` knows, each read under the
// filters it takes, as a chart and then the table of the same figures (the CLI's rows, so both
// doors show one set of columns). A report with no chart here yet shows its table alone.
import type { Child } from 'hono/jsx';
import { busiestDaySentence, forecastRows, leftOutSentence, rate, reportRows } from '../commands/reports';
import type { DatabaseContext, DunningContext } from '../context';
import { forecast, type Forecast } from '../forecast';
import { filtersOf, reportNames, runReport, type AgingReport, type PromisesReport, type RecoveryReport, type RecoveryRow, type Report, type ReportFilter, type StepsReport, type StepsRow } from '../reports';
import { BarChart, type Series } from './charts';
import { money, timeIn, words } from './format';
import { Layout, type SignedInAs } from './pages';
import type { WebhookEndpointView } from '../webhooks';

/**
 * Every report under the filters it takes, read side by side (each on its own connection); the
 * first refusal in the reports' order is thrown.
 */
export async function readReports(ctx: DatabaseContext, filter: ReportFilter): Promise<Report[]> {
  const settled = await Promise.allSettled(
    reportNames.map((name) => runReport(ctx, { ...Object.fromEntries(filtersOf[name].map((key) => [key, filter[key]])), name })),
  );
  const refused = settled.find((r) => r.status === 'rejected');
  if (refused) throw refused.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<Report>).value);
}

/** The forecast for the next 30 days under the page's policy and currency, at the configured mail rate. */
export function readForecast(ctx: DunningContext, filter: ReportFilter): Promise<Forecast> {
  return forecast(ctx, { policy: filter.policy, currency: filter.currency, ratePerSecond: ctx.config.mail.ratePerSecond });
}

/** The reports span accounts, so no account's locale: money is written as the CLI writes it. */
const inCurrency = (minor: number, currency: string) => money(minor, { currency, locale: 'en-US' });

/** A field's name in words: policyVersion → "policy version". */
const fieldWords = (key: string) => words(key.replace(/([a-z0-9])([A-Z])/g, '$1_$2')).toLowerCase();
/** The CLI's headers as a page writes them: NOT YET DUE → "Not yet due". */
const sentenceCase = (text: string) => (text.charAt(0).toUpperCase() + text.slice(1).toLowerCase()).replace(/\butc\b/g, 'UTC');

/** A row's figures for the chart's series, by the series' keys. */
const figuresOf = (row: object, series: Series[]): Record<string, number> =>
  Object.fromEntries(series.map((s) => [s.key, Number((row as Record<string, unknown>)[s.key] ?? 0)]));

/** How the page shows one report: its heading, what it counts, and its chart (if it has one yet). */
interface ReportView<R extends Report> {
  title: string;
  about: (report: R, signedInAs: SignedInAs) => string;
  Chart?: (props: { report: R }) => Child;
}

const agingSeries: Series[] = [
  { key: 'notDueMinor', label: 'Not yet due', color: '#a6cee3' },
  { key: 'days1to30Minor', label: '1–30 days past due', color: '#fdbf6f' },
  { key: 'days31to60Minor', label: '31–60', color: '#f98b3a' },
  { key: 'days61to90Minor', label: '61–90', color: '#d9411e' },
  { key: 'over90Minor', label: 'Over 90', color: '#7f1d12' },
];

function AgingChart({ report }: { report: AgingReport }) {
  return (
    <BarChart
      id="aging-chart"
      title="Open amount by days past due, one bar per currency"
      description="Each bar is its currency's own open total, split by days past due; currencies are not added together. The table below gives the amounts."
      series={agingSeries}
      scale="own"
      bars={report.rows.map((r) => ({
        label: r.currency,
        values: figuresOf(r, agingSeries),
        note: `${inCurrency(r.totalMinor, r.currency)} · ${r.plans} plan${r.plans === 1 ? '' : 's'}`,
        data: { currency: r.currency },
      }))}
    />
  );
}

const promiseSeries: Series[] = [
  { key: 'kept', label: 'Kept', color: '#1d7a35' },
  { key: 'broken', label: 'Broken', color: '#b3261e' },
  { key: 'pending', label: 'Pending', color: '#a9a9a9' },
];

function PromisesChart({ report }: { report: PromisesReport }) {
  return (
    <BarChart
      id="promises-chart"
      title="Promises kept, broken and pending, by rep"
      description="One bar per rep, as long as the promises they recorded, split into kept, broken and pending. The table below gives the counts and kept rates."
      series={promiseSeries}
      scale={Math.max(...report.rows.map((r) => r.made))}
      bars={report.rows.map((r) => ({
        label: r.rep ?? 'no rep named',
        values: figuresOf(r, promiseSeries),
        note: `${r.kept} kept, ${r.broken} broken, ${r.pending} pending`,
        data: { rep: r.rep ?? '' },
      }))}
    />
  );
}

/** A field that says which plans a row is about, in words: the policy's name, "v2", "version unknown". */
const identityWords = (key: string, value: unknown) =>
  key === 'policy' ? String(value) : key === 'policyVersion' ? (value === null ? 'version unknown' : `v${String(value)}`) : `${fieldWords(key)} ${String(value)}`;

/** Rows that share a chart, with the words that name it in the chart's title. */
interface ChartGroup<R> {
  label: string;
  rows: R[];
}

/** Rows grouped by the identity `groupOf` gives each (none: the row is in no chart), in the rows' order. */
function chartGroups<R>(rows: R[], groupOf: (row: R) => { key: string; label: string } | undefined): Array<ChartGroup<R>> {
  const groups = new Map<string, ChartGroup<R>>();
  for (const row of rows) {
    const identity = groupOf(row);
    if (!identity) continue;
    const group = groups.get(identity.key) ?? { label: identity.label, rows: [] };
    group.rows.push(row);
    groups.set(identity.key, group);
  }
  return [...groups.values()];
}

/** The figures of a recovery row; any other field (policy, currency, …) says which plans the row is about. */
const recoveryFigures: ReadonlyArray<keyof RecoveryRow> = ['week', 'plans', 'enteringMinor', 'recoveredMinor', 'recoveryRate', 'resolved', 'medianDaysToResolve', 'p90DaysToResolve'];

/**
 * The weekly rows by policy (and whatever else a row names besides its currency and figures), in
 * the report's order: a chart each, a bar per currency and week. Rates compare across
 * currencies; the amounts they come from stay each in their own.
 */
function recoveryGroups(rows: RecoveryRow[]): Array<ChartGroup<RecoveryRow>> {
  return chartGroups(rows, (row) => {
    if (row.week === null) return undefined;
    const identity = Object.entries(row).filter(([key]) => key !== 'currency' && !(recoveryFigures as readonly string[]).includes(key));
    return { key: JSON.stringify(identity), label: identity.map(([k, v]) => identityWords(k, v)).join(', ') };
  });
}

function RecoveryCharts({ report }: { report: RecoveryReport }) {
  return (
    <>
      {recoveryGroups(report.rows).map((group, i) => (
        <BarChart
          id={`recovery-chart-${i + 1}`}
          title={`Recovery rate by initiation week, policy ${group.label}`}
          description="One bar per currency and week the plans were initiated in: the share of what entered dunning that has been paid since, out of 100 %. The table below gives the amounts."
          series={[{ key: 'rate', label: 'Recovered', color: '#1f5fa8' }]}
          scale={1}
          track
          bars={group.rows.map((r) => ({
            label: `${r.currency} · week of ${r.week}`,
            values: { rate: r.recoveryRate ?? 0 },
            note: r.recoveryRate === null ? 'nothing entered' : `${rate(r.recoveryRate)} of ${inCurrency(r.enteringMinor, r.currency)}`,
            data: { week: r.week ?? '', currency: r.currency, policy: r.policy },
          }))}
        />
      ))}
    </>
  );
}

/** The steps rows by policy version and currency, in the report's (the policy's) order: a chart each. */
function stepsGroups(rows: StepsRow[]): Array<ChartGroup<StepsRow>> {
  return chartGroups(rows, (row) => ({
    key: JSON.stringify([row.policy, row.policyVersion, row.currency]),
    label: `${identityWords('policy', row.policy)} ${identityWords('policyVersion', row.policyVersion)}, ${row.currency}`,
  }));
}

function StepsCharts({ report }: { report: StepsReport }) {
  return (
    <>
      {stepsGroups(report.rows).map((group, i) => (
        <BarChart
          id={`steps-chart-${i + 1}`}
          title={`Plans that paid after each step, policy ${group.label}`}
          description="One bar per step of the policy, in its order: of the plans that went through the step, the share that paid before their next step, out of 100 %. The table below gives the counts and amounts."
          series={[{ key: 'rate', label: 'Paid after the step', color: '#1d7a35' }]}
          scale={1}
          track
          bars={group.rows.map((r) => ({
            label: r.step ?? 'before any step',
            values: { rate: r.paidRate ?? 0 },
            note: `${r.plansPaid} of ${r.reached} paid · ${inCurrency(r.amountMinor, r.currency)}`,
            data: { step: r.step ?? '', currency: r.currency, version: r.policyVersion === null ? '' : String(r.policyVersion) },
          }))}
        />
      ))}
    </>
  );
}

/** Each report's view by name; a report missing here is shown by its table alone. */
const views: { [N in Report['report']]?: ReportView<Extract<Report, { report: N }>> } = {
  aging: {
    title: 'Aging',
    about: (report, who) =>
      `What is open on open plans, by days past due on each account's own calendar, as of ${timeIn(report.asOf, { locale: 'en-US' }, who.timeZone)}.`,
    Chart: AgingChart,
  },
  promises: {
    title: 'Promises',
    about: () => 'Promises to pay made in the period, by the rep who recorded them. Pending: neither kept nor broken yet, or cancelled with their plan. The kept rate is over those kept or broken.',
    Chart: PromisesChart,
  },
  recovery: {
    title: 'Recovery',
    about: () =>
      'Plans initiated in the period, by policy, currency and week (from Monday, UTC): what they owed when dunning began, what has been paid since, and the days to resolve of those paid in full.',
    Chart: RecoveryCharts,
  },
  steps: {
    title: 'Which step worked',
    about: () =>
      "Plans initiated in the period, by policy version and currency. Each payment is credited to the plan's last step done before it came in (last touch); a step's rate is the plans that paid after it, before their next step, over the plans that went through it.",
    Chart: StepsCharts,
  },
};

/**
 * The rows of a report the CLI has no table for (one added to the service first): a column per
 * field, money in the row's currency; in the csv style the values as they are, empty for none.
 */
function fieldRows(report: Report, style: 'table' | 'csv'): string[][] {
  const rows = report.rows as Array<Record<string, unknown>>;
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (row: Record<string, unknown>, key: string) => {
    const value = row[key];
    if (value === null || value === undefined) return style === 'csv' ? '' : '—';
    if (style === 'table' && key.endsWith('Minor') && typeof value === 'number' && typeof row.currency === 'string') return inCurrency(value, row.currency);
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  };
  return [keys.map((k) => fieldWords(k.replace(/Minor$/, ''))), ...rows.map((r) => keys.map((k) => cell(r, k)))];
}

/** The CLI's rows for a report, or its fields' when the CLI has no table for it. */
const rowsOf = (report: Report, style: 'table' | 'csv'): string[][] => (reportRows(report, style) as string[][] | undefined) ?? fieldRows(report, style);

/** A report's rows as a table: the CLI's cells, its figures' columns aligned right. */
function ReportTable(props: { report: Report; caption: string }) {
  return <FiguresTable name={props.report.report} table={rowsOf(props.report, 'table')} csv={rowsOf(props.report, 'csv')} caption={props.caption} />;
}

/** A report's rows as the CLI formats them (`table`), its figure columns told apart by the raw rows (`csv`). */
function FiguresTable(props: { name: string; table: string[][]; csv: string[][]; caption: string }) {
  const [head = [], ...body] = props.table;
  const [, ...raw] = props.csv;
  // A column is figures when every raw cell is a number (or empty): counts, minor units, rates.
  const figures = head.map((_, i) => raw.every((r) => r[i] === '' || Number.isFinite(Number(r[i]))));
  return (
    <table data-report-table={props.name}>
      <caption class="visually-hidden">{props.caption}</caption>
      <thead>
        <tr>
          {head.map((h) => (
            <th scope="col">{sentenceCase(h)}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {body.map((row) => (
          <tr>
            {row.map((cell, i) => (
              <td class={figures[i] ? 'num' : undefined}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ReportSection(props: { report: Report; filter: ReportFilter; signedInAs: SignedInAs }) {
  const { report } = props;
  const name = report.report;
  const view = views[name] as ReportView<Report> | undefined;
  const title = view?.title ?? sentenceCase(fieldWords(name));
  const takes = filtersOf[name] as ReadonlyArray<keyof ReportFilter> | undefined;
  const ignored = takes ? (Object.keys(props.filter) as Array<keyof ReportFilter>).filter((k) => props.filter[k] !== undefined && !takes.includes(k)) : [];
  return (
    <section aria-labelledby={`report-${name}`} data-report={name}>
      <h2 id={`report-${name}`}>{title}</h2>
      {view && <p>{view.about(report, props.signedInAs)}</p>}
      {ignored.length > 0 && <p>Not narrowed by {ignored.join(' and ')}: this report does not take {ignored.length === 1 ? 'it' : 'them'}.</p>}
      {report.rows.length === 0 ? (
        <p data-empty>No figures for the {name} report under these filters.</p>
      ) : (
        <>
          {view?.Chart && <view.Chart report={report} />}
          <ReportTable report={report} caption={`${title}: the figures`} />
        </>
      )}
    </section>
  );
}

function FilterForm(props: { filter: ReportFilter; policies: string[]; refusal?: string }) {
  const { filter } = props;
  const filtered = Object.values(filter).some((v) => v !== undefined);
  return (
    <form class="filters" method="get" action="/reports" role="search" aria-describedby={props.refusal ? 'filter-refusal' : undefined}>
      <label for="policy">
        Policy
        <input id="policy" name="policy" list="policy-names" value={filter.policy ?? ''} autocomplete="off" />
      </label>
      <datalist id="policy-names">
        {props.policies.map((p) => (
          <option value={p}></option>
        ))}
      </datalist>
      <label for="currency">
        Currency
        <input id="currency" name="currency" size={4} maxlength={3} pattern="[A-Za-z]{3}" value={filter.currency ?? ''} />
      </label>
      <label for="from">
        From (plans initiated, promises made)
        <input id="from" name="from" type="date" value={filter.from ?? ''} />
      </label>
      <label for="to">
        To (inclusive)
        <input id="to" name="to" type="date" value={filter.to ?? ''} />
      </label>
      <button type="submit">Filter</button>
      {filtered && <a href="/reports">Clear filters</a>}
      {props.refusal && (
        <p id="filter-refusal" class="refusal" role="alert">
          {props.refusal}
        </p>
      )}
    </form>
  );
}

const forecastSeries: Series[] = [
  { key: 'emails', label: 'Emails', color: '#1f5fa8' },
  { key: 'tasks', label: 'Rep tasks', color: '#f98b3a' },
];

/** What the open plans will do over the next 30 days: a bar per day, then the busiest day's drain time. */
function ForecastSection(props: { forecast: Forecast; filter: ReportFilter }) {
  const f = props.forecast;
  const ignored = (['from', 'to'] as const).filter((k) => props.filter[k] !== undefined);
  const most = Math.max(...f.days.map((d) => d.emails + d.tasks));
  const held = leftOutSentence(f);
  return (
    <section aria-labelledby="report-forecast" data-report="forecast">
      <h2 id="report-forecast">Forecast</h2>
      <p>
        The emails and rep tasks the open plans' steps make each day from {f.days[0]!.date} to {f.days.at(-1)!.date} (UTC calendar days), each email placed in its
        contact's send window, as <code>dunning forecast</code> counts them.
      </p>
      {ignored.length > 0 && <p>Not narrowed by {ignored.join(' and ')}: the forecast looks ahead from today.</p>}
      {most === 0 ? (
        <p data-empty>Nothing is due in the next {f.days.length} days under these filters.</p>
      ) : (
        <>
          <BarChart
            id="forecast-chart"
            title={`Emails and rep tasks per day, the next ${f.days.length} days`}
            description="One bar per UTC day, as long as the emails and tasks due that day, on one scale. The table below gives the counts."
            series={forecastSeries}
            scale={most}
            bars={f.days.map((d) => ({ label: d.date, values: { emails: d.emails, tasks: d.tasks }, note: `${d.emails} emails, ${d.tasks} tasks`, data: { date: d.date } }))}
          />
          <FiguresTable name="forecast" table={forecastRows(f, 'table')} csv={forecastRows(f, 'csv')} caption="Forecast: the figures" />
        </>
      )}
      {(f.busiestDay || held) && (
        <p data-drain>
          {f.busiestDay && busiestDaySentence(f)}
          {held && ` ${held}`}
        </p>
      )}
    </section>
  );
}

/**
 * Endpoints the engine (or a person) disabled: events no longer leave for them, so ops see it on
 * the page they open first, with the reason and how to look further.
 */
function DisabledWebhooks(props: { endpoints: WebhookEndpointView[]; timeZone: string }) {
  if (props.endpoints.length === 0) return null;
  return (
    <section class="warning" aria-labelledby="disabled-webhooks">
      <h2 id="disabled-webhooks">Webhooks not receiving events</h2>
      <ul>
        {props.endpoints.map((e) => (
          <li>
            <code>{e.id}</code> ({e.url}), disabled <time datetime={e.updatedAt}>{timeIn(e.updatedAt, { locale: 'en-US' }, props.timeZone)}</time>: {e.disabledReason} See its timeline with <code>dunning webhook show {e.id}</code>; <code>dunning webhook enable {e.id}</code> sends what waits.
          </li>
        ))}
      </ul>
    </section>
  );
}

export function ReportsPage(props: {
  reports: Report[];
  forecast?: Forecast;
  filter: ReportFilter;
  policies: string[];
  signedInAs: SignedInAs;
  refusal?: string;
  disabledWebhooks?: WebhookEndpointView[];
}) {
  return (
    <Layout title="Reports" signedInAs={props.signedInAs} current="reports">
      <DisabledWebhooks endpoints={props.disabledWebhooks ?? []} timeZone={props.signedInAs.timeZone} />
      <p>How well dunning works. Amounts are never added across currencies: each figure of money is in its row's currency.</p>
      <FilterForm filter={props.filter} policies={props.policies} refusal={props.refusal} />
      {props.reports.map((report) => (
        <ReportSection report={report} filter={props.filter} signedInAs={props.signedInAs} />
      ))}
      {props.forecast && <ForecastSection forecast={props.forecast} filter={props.filter} />}
    </Layout>
  );
}
