import { from, op } from 'arquero';
import { studentTQuantile } from './student-t.js';
import type { RunSummary } from './types.js';

/** Confidence level of the intervals over seeds. */
export const SUMMARY_CI_LEVEL = 0.95;

/** One (sweep point, method, metric, class) over the runs (seeds) at that point. */
export interface SummaryRow {
  /** The sweep point: each of `AggregateTable.params`, in order (undefined where a run lacked the key). */
  params: Record<string, unknown>;
  /** The sweep point as text: `train.lr=0.01, head.layers=3`; empty when nothing is swept. */
  point: string;
  method: string;
  metric: string;
  /** The class of a per-class row (e.g. pointing_game of one class); undefined for the rest. */
  class?: string;
  mean: number;
  /** Sample standard deviation (n - 1); undefined for a single run. */
  std?: number;
  /** Runs with a finite value for this metric. */
  n: number;
  /** mean ± t(1 - α/2, n - 1) · std / √n; for a single run, that run's own CI (bootstrap over images) if it has one. */
  ci_low?: number;
  ci_high?: number;
}

export interface AggregateTable {
  /** Sweep param key paths, in order of first appearance over the runs. */
  params: string[];
  rows: SummaryRow[];
}

/**
 * Aggregates runs over seeds with arquero: groupby(sweep point, method, metric, class) then rollup
 * mean (`op.mean`), sample std (`op.stdev`) and the count of finite values (`op.valid`); then a
 * two-sided t-interval at `level`; a point with a single run keeps that run's own interval (the
 * bootstrap over images) where it has one. Non-finite values (NaN) are left out and not counted. A
 * (method, metric, class) that repeats inside one run counts once (the first). Groups appear in
 * order of first appearance.
 */
export function aggregateRuns(runs: readonly RunSummary[], level = SUMMARY_CI_LEVEL): AggregateTable {
  const params = [...new Set(runs.flatMap((r) => Object.keys(r.params)))];
  const points = new Map<string, Record<string, unknown>>();
  // `cls` is '' for rows of no class (arquero groups need a value); it becomes undefined again below.
  const long: Array<{ point: string; method: string; metric: string; cls: string; value: number }> = [];
  // The run's own CI (a bootstrap over images), used where a point has a single run.
  const runCi = new Map<string, { low: number; high: number }>();
  for (const run of runs) {
    const values = params.map((k) => run.params[k]);
    const point = JSON.stringify(values.map((v) => (v === undefined ? null : v)));
    if (!points.has(point)) points.set(point, Object.fromEntries(params.map((k, i) => [k, values[i]])));
    const seen = new Set<string>();
    for (const m of run.metrics) {
      const cls = m.class ?? '';
      const key = JSON.stringify([m.method, m.metric, cls]);
      if (seen.has(key)) continue;
      seen.add(key);
      long.push({ point, method: m.method, metric: m.metric, cls, value: Number.isFinite(m.value) ? m.value : NaN });
      if (m.ci_low !== undefined && m.ci_high !== undefined) runCi.set(JSON.stringify([point, m.method, m.metric, cls]), { low: m.ci_low, high: m.ci_high });
    }
  }
  if (long.length === 0) return { params, rows: [] };

  const rolled = from(long)
    .groupby('point', 'method', 'metric', 'cls')
    .rollup({ mean: op.mean('value'), std: op.stdev('value'), n: op.valid('value') })
    .objects() as Array<{ point: string; method: string; metric: string; cls: string; mean?: number; std?: number; n: number }>;

  const rows = rolled.map((g): SummaryRow => {
    const p = points.get(g.point)!;
    const row: SummaryRow = {
      params: p,
      point: pointLabel(params, p),
      method: g.method,
      metric: g.metric,
      ...(g.cls !== '' ? { class: g.cls } : {}),
      mean: g.mean ?? NaN,
      n: g.n,
    };
    if (g.n >= 2 && g.std !== undefined && Number.isFinite(g.std)) {
      row.std = g.std;
      const half = studentTQuantile(1 - (1 - level) / 2, g.n - 1) * (g.std / Math.sqrt(g.n));
      row.ci_low = row.mean - half;
      row.ci_high = row.mean + half;
    } else if (g.n === 1) {
      const ci = runCi.get(JSON.stringify([g.point, g.method, g.metric, g.cls]));
      if (ci) [row.ci_low, row.ci_high] = [ci.low, ci.high];
    }
    return row;
  });
  return { params, rows };
}

/** `key=value, key=value` over the swept keys (values as `paramText` writes them). */
export function pointLabel(keys: readonly string[], params: Record<string, unknown>): string {
  return keys.map((k) => `${k}=${paramText(params[k])}`).join(', ');
}

/** A param value as text: strings as they are, numbers/booleans with String, the rest as JSON; blank when absent. */
export function paramText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}
