import { join } from 'node:path';
import { GazeError, writeFileAtomic } from '@gaze/engine';
import { aggregateRuns, paramText, SUMMARY_CI_LEVEL, type AggregateTable } from './aggregate.js';
import { formatCsv, type CsvCell } from './csv.js';
import { formatValue } from './format-value.js';
import { escapeHtml, htmlFigure, htmlPage, htmlTable } from './html.js';
import { escapeMarkdown, markdownTable } from './markdown.js';
import { metricBarsSpec } from './metric-bars.js';
import { renderChart } from './render-chart.js';
import type { TextTable } from './text-table.js';
import type { RunSummary } from './types.js';

/** Columns of summary.csv after the sweep params. */
export const SUMMARY_COLUMNS = ['method', 'metric', 'class', 'mean', 'std', 'n', 'ci_low', 'ci_high'] as const;

/**
 * The column title of a sweep param: its key path, or `param:<key>` when the key path is one of
 * the fixed columns (a param called `method` must not shadow the method column).
 */
export function paramColumn(key: string): string {
  return (SUMMARY_COLUMNS as readonly string[]).includes(key) ? `param:${key}` : key;
}

/** summary.csv: one line per (sweep point, method, metric, class); params as columns; full precision; blanks for one run. */
export function summaryCsv(table: AggregateTable): string {
  const header = [...table.params.map(paramColumn), ...SUMMARY_COLUMNS];
  const rows = table.rows.map((r): CsvCell[] => [
    ...table.params.map((k) => {
      const v = r.params[k];
      return typeof v === 'number' ? v : paramText(v);
    }),
    r.method,
    r.metric,
    r.class,
    r.mean,
    r.std,
    r.n,
    r.ci_low,
    r.ci_high,
  ]);
  return formatCsv(header, rows);
}

function summaryTextTable(table: AggregateTable): TextTable {
  return {
    columns: [
      ...table.params.map((k) => ({ title: paramColumn(k) })),
      { title: 'method' },
      { title: 'metric' },
      { title: 'class' },
      { title: 'mean', numeric: true },
      { title: 'std', numeric: true },
      { title: 'n', numeric: true },
      { title: 'ci_low', numeric: true },
      { title: 'ci_high', numeric: true },
    ],
    rows: table.rows.map((r) => [
      ...table.params.map((k) => paramText(r.params[k])),
      r.method,
      r.metric,
      r.class ?? '',
      formatValue(r.mean),
      formatValue(r.std),
      formatValue(r.n),
      formatValue(r.ci_low),
      formatValue(r.ci_high),
    ]),
  };
}

function runsTextTable(runs: readonly RunSummary[], params: readonly string[]): TextTable {
  return {
    columns: [
      { title: 'run' },
      { title: 'seed', numeric: true },
      ...params.map((k) => ({ title: paramColumn(k) })),
      { title: 'metric rows', numeric: true },
    ],
    rows: runs.map((r) => [
      r.runId,
      String(r.seed),
      ...params.map((k) => paramText(r.params[k])),
      String(r.metrics.length),
    ]),
  };
}

const CI_NOTE =
  `mean and sample std (n - 1) over runs (seeds); ci_low/ci_high: the ${SUMMARY_CI_LEVEL * 100}% t-interval ` +
  `mean ± t(${1 - (1 - SUMMARY_CI_LEVEL) / 2}, n - 1) · std / √n; for a single run, std is blank and the interval is the run's own bootstrap over images where it has one.`;

/**
 * What `gaze report runs/<experiment>` writes into `outDir`: `summary.csv`, `summary.md`,
 * `summary.html` (self-contained) and `charts/summary.{vl.json,svg,png}` (mean bars with error
 * bars per method and metric, coloured by sweep point). Returns the paths written.
 */
export async function writeAggregateReport(outDir: string, experiment: string, runs: RunSummary[]): Promise<string[]> {
  if (runs.length === 0) {
    throw new GazeError(`no finished runs to summarise for experiment "${experiment}"`, {
      where: outDir,
      hint: 'run the experiment first (gaze run <config>); a run counts once its metrics.csv is written',
    });
  }
  const table = aggregateRuns(runs);
  const written: string[] = [];
  const write = async (rel: string, data: string) => {
    const path = join(outDir, rel);
    await writeFileAtomic(path, data);
    written.push(path);
  };

  await write('summary.csv', summaryCsv(table));

  let svg: string | undefined;
  // Per-class rows stay in the tables: as bars they would share their metric's panel.
  const charted = table.rows.filter((r) => r.class === undefined);
  if (charted.length > 0) {
    const swept = table.params.length > 0;
    const spec = metricBarsSpec(
      charted.map((r) => ({
        method: r.method,
        metric: r.metric,
        value: r.mean,
        std: r.std,
        ci_low: r.ci_low,
        ci_high: r.ci_high,
        ...(swept ? { group: r.point } : {}),
      })),
      { groupTitle: 'sweep point' },
    );
    const chart = await renderChart(spec, join(outDir, 'charts', 'summary'));
    svg = chart.svg;
    written.push(...chart.files);
  }

  const title = `${experiment} — summary over ${runs.length} run${runs.length === 1 ? '' : 's'}`;
  const summary = summaryTextTable(table);
  const runsTable = runsTextTable(runs, table.params);

  const md: string[] = [`# ${escapeMarkdown(title)}`, '', '## Summary', ''];
  md.push(table.rows.length > 0 ? markdownTable(summary) : 'No metrics were recorded.', '', CI_NOTE, '');
  md.push('Full precision: [summary.csv](summary.csv).', '');
  if (svg) md.push('## Chart', '', '[![Summary](charts/summary.png)](charts/summary.svg)', '');
  md.push('## Runs', '', markdownTable(runsTable), '');
  await write('summary.md', md.join('\n'));

  const html: string[] = [
    `<h1>${escapeHtml(experiment)}</h1>`,
    `<p class="subtitle">summary over ${runs.length} run${runs.length === 1 ? '' : 's'}</p>`,
    '<h2>Summary</h2>',
    table.rows.length > 0 ? htmlTable(summary, { id: 'summary' }) : '<p>No metrics were recorded.</p>',
    `<p class="subtitle">${escapeHtml(CI_NOTE)}</p>`,
  ];
  if (svg) {
    const caption = `Mean per method and metric; error bars: the ${SUMMARY_CI_LEVEL * 100}% t-interval`;
    html.push('<h2>Chart</h2>', htmlFigure(svg, 'chart-summary', caption));
  }
  html.push('<h2>Runs</h2>', htmlTable(runsTable, { id: 'runs' }));
  html.push('<footer>Written by @gaze/report. Full-precision values are in summary.csv next to this file.</footer>');
  await write('summary.html', htmlPage(title, html.join('\n')));
  return written;
}
