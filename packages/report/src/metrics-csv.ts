import { readFileSync } from 'node:fs';
import { GazeError } from '@gaze/engine';
import { formatCsv, parseCsv } from './csv.js';
import type { MetricRow } from './types.js';

/** The header of every metrics.csv, in this order. */
export const METRICS_CSV_HEADER = ['method', 'metric', 'class', 'value', 'n', 'ci_low', 'ci_high'] as const;
/** The header before per-class rows had their own column (metrics.csv files written until then still read). */
const METRICS_CSV_HEADER_V1 = ['method', 'metric', 'value', 'n', 'ci_low', 'ci_high'] as const;

/** The tidy metrics.csv text: one line per row, empty `class` where the row is no class's, empty `ci_low`/`ci_high` where there is no CI. */
export function metricsCsv(rows: readonly MetricRow[]): string {
  return formatCsv(
    [...METRICS_CSV_HEADER],
    rows.map((r) => [r.method, r.metric, r.class, r.value, r.n, r.ci_low, r.ci_high]),
  );
}

/** The metrics.json text: the same rows as an array of objects (NaN/Infinity become null, as JSON has neither). */
export function metricsJson(rows: readonly MetricRow[]): string {
  const plain = rows.map((r) => {
    const o: Record<string, unknown> = { method: r.method, metric: r.metric, ...(r.class !== undefined ? { class: r.class } : {}), value: r.value, n: r.n };
    if (r.ci_low !== undefined) o.ci_low = r.ci_low;
    if (r.ci_high !== undefined) o.ci_high = r.ci_high;
    return o;
  });
  return `${JSON.stringify(plain, null, 2)}\n`;
}

/** Reads a metrics.csv as `writeRunReport` writes it. A wrong header or a non-numeric cell is a GazeError naming file:line. */
export function readMetricsCsv(path: string): MetricRow[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new GazeError(`cannot read metrics file: ${(cause as Error).message}`, {
      where: path,
      hint: 'pass the metrics.csv of a finished run (runs/<experiment>/<run-id>/metrics.csv)',
      cause,
    });
  }
  return parseMetricsCsv(text, path);
}

/** Parses metrics.csv text; `where` names the source in errors. */
export function parseMetricsCsv(text: string, where = 'metrics.csv'): MetricRow[] {
  const [header, ...lines] = parseCsv(text);
  const current = header?.join(',') === METRICS_CSV_HEADER.join(',');
  if (!header || (!current && header.join(',') !== METRICS_CSV_HEADER_V1.join(','))) {
    throw new GazeError(`not a metrics table: header is "${header?.join(',') ?? ''}"`, {
      where: `${where}:1`,
      hint: `a metrics.csv starts with "${METRICS_CSV_HEADER.join(',')}"`,
    });
  }
  const width = current ? METRICS_CSV_HEADER.length : METRICS_CSV_HEADER_V1.length;
  return lines.map((cells, i) => {
    const at = `${where}:${i + 2}`;
    if (cells.length !== width) {
      throw new GazeError(`expected ${width} fields, found ${cells.length}`, {
        where: at,
        hint: 'quote fields that contain commas',
      });
    }
    const [method, metric, cls, value, n, ciLow, ciHigh] = current ? cells : [cells[0], cells[1], '', ...cells.slice(2)];
    const row: MetricRow = { method, metric, ...(cls !== '' ? { class: cls } : {}), value: num(value, 'value', at), n: num(n, 'n', at) };
    if (ciLow !== '') row.ci_low = num(ciLow, 'ci_low', at);
    if (ciHigh !== '') row.ci_high = num(ciHigh, 'ci_high', at);
    return row;
  });
}

function num(text: string, column: string, where: string): number {
  const v = Number(text);
  if (text.trim() === '' || (Number.isNaN(v) && text !== 'NaN')) {
    throw new GazeError(`${column} is not a number: "${text}"`, { where, hint: 'write numbers like 0.5, 1e-3, NaN' });
  }
  return v;
}
