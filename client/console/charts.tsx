// Charts for the console, drawn on the server as SVG: no script and no library to serve. A
// chart is an image named by its visible caption and described for screen readers, and the
// page follows it with a table of the same figures; every bar segment carries its figure in
// data attributes.
import type { Child } from 'hono/jsx';

/** One kind of figure a bar is made of, drawn in its colour, in the order the series are given. */
export interface Series {
  key: string;
  label: string;
  color: string;
}

export interface Bar {
  label: string;
  /** Figures by series key; a missing or zero figure draws no segment. */
  values: Record<string, number>;
  /** What the bar says after its end: its total, its rate. */
  note: string;
  /** Data attributes for the bar's group, e.g. `{ currency: 'USD' }` → `data-currency="USD"`. */
  data?: Record<string, string>;
}

export interface BarChartProps {
  /** Unique on the page: the ids of the title and description derive from it. */
  id: string;
  title: string;
  /** What the chart shows, read after its title by a screen reader. */
  description: string;
  series: Series[];
  bars: Bar[];
  /**
   * What a full-width bar stands for: one figure for every bar, so bars compare; or `'own'`,
   * each bar its own total, for figures that must not be compared (amounts in different currencies).
   */
  scale: number | 'own';
  /** A faint full-width track behind each bar, for parts of a whole such as a rate. */
  track?: boolean;
}

const WIDTH = 760;
const LABEL_RIGHT = 170;
const BAR_LEFT = 180;
const BAR_WIDTH = 380;
const NOTE_LEFT = BAR_LEFT + BAR_WIDTH + 10;
const ROW = 28;
const BAR_HEIGHT = 18;
const PAD = 6;
const LABEL_CHARS = 26;

/** Two decimals: enough for a pixel, short in the page. */
const px = (n: number) => Math.round(n * 100) / 100;
const clipped = (label: string) => (label.length > LABEL_CHARS ? `${label.slice(0, LABEL_CHARS - 1)}…` : label);
const dataAttributes = (data: Record<string, string> = {}) => Object.fromEntries(Object.entries(data).map(([k, v]) => [`data-${k}`, v]));

/** Horizontal bars, one per row, each stacked from the series' segments, with a label before and a note after. */
export function BarChart(props: BarChartProps) {
  const height = props.bars.length * ROW + 2 * PAD;
  const titleId = `${props.id}-title`;
  const descId = `${props.id}-desc`;
  return (
    <figure class="chart" id={props.id}>
      <figcaption>
        <span class="chart-title" id={titleId}>
          {props.title}
        </span>
        <Legend series={props.series} />
      </figcaption>
      <svg
        role="img"
        aria-labelledby={titleId}
        aria-describedby={descId}
        viewBox={`0 0 ${WIDTH} ${height}`}
        width={WIDTH}
        height={height}
        font-family="system-ui, sans-serif"
        font-size="13"
      >
        <title>{props.title}</title>
        <desc id={descId}>{props.description}</desc>
        {props.bars.map((bar, i) => {
          const y = PAD + i * ROW + (ROW - BAR_HEIGHT) / 2;
          const total = props.series.reduce((sum, s) => sum + Math.max(0, bar.values[s.key] ?? 0), 0);
          const scale = props.scale === 'own' ? total : props.scale;
          let x = BAR_LEFT;
          return (
            <g class="bar" {...dataAttributes(bar.data)}>
              <text x={LABEL_RIGHT} y={y + BAR_HEIGHT / 2} text-anchor="end" dominant-baseline="central" fill="#1b1b1b">
                {clipped(bar.label)}
              </text>
              {props.track && <rect class="track" x={BAR_LEFT} y={y} width={BAR_WIDTH} height={BAR_HEIGHT} fill="#eeeeee" />}
              {scale > 0 &&
                props.series.map((s) => {
                  const value = Math.max(0, bar.values[s.key] ?? 0);
                  if (value === 0) return null;
                  const width = px((value / scale) * BAR_WIDTH);
                  const segment = (
                    <rect x={px(x)} y={y} width={width} height={BAR_HEIGHT} fill={s.color} stroke="#ffffff" stroke-width="1" data-series={s.key} data-value={String(value)} />
                  );
                  x += width;
                  return segment;
                })}
              <text x={NOTE_LEFT} y={y + BAR_HEIGHT / 2} dominant-baseline="central" fill="#1b1b1b">
                {bar.note}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

/** The series' colours named, in the order their segments are drawn. */
function Legend(props: { series: Series[] }): Child {
  if (props.series.length < 2) return null;
  return (
    <ul class="legend">
      {props.series.map((s) => (
        <li>
          <span class="swatch" style={`background:${s.color}`}></span>
          {s.label}
        </li>
      ))}
    </ul>
  );
}

/** The charts' rules for the page's style sheet. */
export const chartStyle = `
figure.chart { margin: 1rem 0; }
figure.chart svg { max-width: 100%; height: auto; display: block; margin-top: .25rem; }
figure.chart .chart-title { font-weight: 600; }
ul.legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; padding: 0; margin: .25rem 0 0; font-size: .9rem; }
ul.legend .swatch { display: inline-block; width: .9rem; height: .9rem; margin-right: .35rem; vertical-align: -.1rem; border: 1px solid #767676; }
`;
