import type { TopLevelSpec } from 'vega-lite';

/** One bar: a `MetricRow` fits, and so does an aggregate row (with `std` and a sweep-point `group`). */
export interface MetricBarRow {
  method: string;
  metric: string;
  value: number;
  ci_low?: number;
  ci_high?: number;
  /** Used for the error bar (value ± std) when there is no CI. */
  std?: number;
  /** A second grouping inside each method (e.g. the sweep point): bars side by side, coloured by it. */
  group?: string;
}

export interface MetricBarsOptions {
  /** Legend title for `group` (default "group"). */
  groupTitle?: string;
  /** Facet columns before wrapping (default: up to 3). */
  columns?: number;
}

/** Width of one metric's panel in SVG pixels (per method band width comes from it). */
export const BAR_PANEL = { width: 220, height: 160 };

/**
 * Bars per method for each metric: one panel per metric (wrapped facet, each with its own y
 * scale), x = method, y = value, with an error bar from `ci_low`..`ci_high` or, without a CI,
 * `value ± std`; rows with neither get no error bar. With `group` set on any row, bars are
 * grouped side by side and coloured by group; otherwise they are coloured by method.
 */
export function metricBarsSpec(rows: MetricBarRow[], options: MetricBarsOptions = {}): TopLevelSpec {
  const grouped = rows.some((r) => r.group !== undefined);
  const values = rows.map((r) => {
    const [lo, hi] = errorExtent(r);
    return {
      method: r.method,
      metric: r.metric,
      value: Number.isFinite(r.value) ? r.value : null,
      err_low: lo,
      err_high: hi,
      group: r.group ?? '',
    };
  });
  const methods = unique(rows.map((r) => r.method));
  const metrics = unique(rows.map((r) => r.metric));
  const groups = unique(rows.map((r) => r.group ?? ''));
  const colorField = grouped
    ? { field: 'group', type: 'nominal' as const, title: options.groupTitle ?? 'group', scale: { domain: groups } }
    : { field: 'method', type: 'nominal' as const, title: 'method', scale: { domain: methods, ...twentyColours(methods.length) }, legend: null };
  const x = { field: 'method', type: 'nominal' as const, title: null, sort: methods, axis: { labelAngle: -30 } };
  const xOffset = grouped ? { xOffset: { field: 'group', type: 'nominal' as const, sort: groups } } : {};
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description: 'Metric values per method, one panel per metric, with error bars',
    data: { values },
    facet: { field: 'metric', type: 'nominal', title: null, sort: metrics },
    columns: options.columns ?? Math.min(3, Math.max(1, metrics.length)),
    spec: {
      width: BAR_PANEL.width,
      height: BAR_PANEL.height,
      layer: [
        {
          mark: { type: 'bar' },
          transform: [{ filter: 'isValid(datum.value)' }],
          encoding: { x, ...xOffset, y: { field: 'value', type: 'quantitative', title: 'value' }, color: colorField },
        },
        {
          mark: { type: 'rule', color: '#333', strokeWidth: 1.5 },
          transform: [{ filter: 'isValid(datum.err_low) && isValid(datum.err_high)' }],
          encoding: {
            x,
            ...xOffset,
            y: { field: 'err_low', type: 'quantitative' },
            y2: { field: 'err_high' },
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** The error bar of one row: the CI when both ends are finite, else value ± std, else none. */
export function errorExtent(r: MetricBarRow): [number | null, number | null] {
  if (isFiniteNumber(r.ci_low) && isFiniteNumber(r.ci_high)) return [r.ci_low, r.ci_high];
  if (isFiniteNumber(r.std) && Number.isFinite(r.value)) return [r.value - r.std, r.value + r.std];
  return [null, null];
}

function isFiniteNumber(v: number | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Past the default palette's 10 colours, tableau20 keeps up to 20 methods apart. */
function twentyColours(count: number): { scheme?: string } {
  return count > 10 ? { scheme: 'tableau20' } : {};
}
