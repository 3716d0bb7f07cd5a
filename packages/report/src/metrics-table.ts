import { from } from 'arquero';
import { formatValue, formatWithCi } from './format-value.js';
import type { TextTable } from './text-table.js';
import type { MetricRow } from './types.js';

/**
 * The run's metrics pivoted method x metric (arquero `groupby('method').pivot(...)`): one row
 * per method and one column per metric, both in order of first appearance; a cell is
 * `value [ci_low, ci_high]` or the value alone, blank where the method has no such metric.
 * If a (method, metric) pair repeats, the first row wins.
 */
export function metricsPivot(rows: readonly MetricRow[]): TextTable {
  const metrics = [...new Set(rows.map((r) => r.metric))];
  if (rows.length === 0) return { columns: [{ title: 'method' }], rows: [] };
  // Metric names become column keys k0, k1, ... so no name can clash with `method` or arquero internals.
  const key = new Map(metrics.map((m, i) => [m, `k${i}`]));
  const long = from(
    rows.map((r) => ({ method: r.method, key: key.get(r.metric)!, cell: formatWithCi(r.value, r.ci_low, r.ci_high) })),
  );
  const wide = long.groupby('method').pivot('key', 'cell', { sort: false }).objects() as Array<Record<string, unknown>>;
  return {
    columns: [{ title: 'method' }, ...metrics.map((m) => ({ title: m, numeric: true }))],
    rows: wide.map((o) => [String(o.method), ...metrics.map((m) => (o[key.get(m)!] as string | undefined) ?? '')]),
  };
}

/** The tidy rows as a display table (method, metric, class, value, n, ci_low, ci_high). */
export function metricsTidy(rows: readonly MetricRow[]): TextTable {
  return {
    columns: [
      { title: 'method' },
      { title: 'metric' },
      { title: 'class' },
      { title: 'value', numeric: true },
      { title: 'n', numeric: true },
      { title: 'ci_low', numeric: true },
      { title: 'ci_high', numeric: true },
    ],
    rows: rows.map((r) => [r.method, r.metric, r.class ?? '', formatValue(r.value), formatValue(r.n), formatValue(r.ci_low), formatValue(r.ci_high)]),
  };
}

/**
 * A breakdown row is about one class (its `class` is set) or one layer or percentage (a `/` in
 * the metric name, e.g. `road_morf/10`); the headline rows are the rest.
 */
export function isBreakdownMetric(row: Pick<MetricRow, 'metric' | 'class'>): boolean {
  return row.class !== undefined || row.metric.includes('/');
}

/**
 * The rows a report shows in its tables and bar chart: the classifier's own rows and the other
 * methods' headline rows, apart; breakdown rows stay in metrics.csv (`breakdowns` counts them).
 */
export function reportMetricGroups(rows: readonly MetricRow[]): { classifier: MetricRow[]; methods: MetricRow[]; breakdowns: number } {
  const headline = rows.filter((r) => !isBreakdownMetric(r));
  return {
    classifier: headline.filter((r) => r.method === 'classifier'),
    methods: headline.filter((r) => r.method !== 'classifier'),
    breakdowns: rows.length - headline.length,
  };
}
