import { join } from 'node:path';
import { GazeError, SAFE_NAME, writeFileAtomic } from '@gaze/engine';
import { envTable } from './env-table.js';
import { escapeHtml, htmlFigure, htmlPage, htmlTable } from './html.js';
import { escapeMarkdown, markdownFence, markdownTable } from './markdown.js';
import { metricBarsSpec } from './metric-bars.js';
import { metricsCsv, metricsJson } from './metrics-csv.js';
import { isBreakdownMetric, metricsPivot, metricsTidy, reportMetricGroups } from './metrics-table.js';
import { renderChart } from './render-chart.js';
import { GALLERY_ALPHA, renderGallery, type GalleryInput } from './gallery.js';
import { trainingCurvesSpec } from './training-curves.js';
import type { MetricRow, ReportChart, RunReportInput } from './types.js';

/** A chart as written under `charts/`: its caption, stem and SVG text. */
interface WrittenChart {
  name: string;
  title: string;
  svg: string;
}

/** Chart stems `writeRunReport` draws itself; a caller's `charts` may not reuse them. */
export const BUILTIN_RUN_CHARTS = ['training-curves', 'metrics'] as const;

/**
 * Writes a run's report into `runDir`, every file atomically, and returns the paths written:
 * `metrics.csv`, `metrics.json`, `charts/training-curves.{vl.json,svg,png}` (when there is a
 * history), `charts/metrics.{vl.json,svg,png}` (when there are metric rows), then the caller's
 * `charts`, `report.md` and `report.html` (self-contained: inline CSS and SVG, no script, no URL).
 */
export async function writeRunReport(runDir: string, input: RunReportInput): Promise<string[]> {
  const extra = input.charts ?? [];
  checkChartNames(extra);
  const written: string[] = [];
  const write = async (rel: string, data: string) => {
    const path = join(runDir, rel);
    await writeFileAtomic(path, data);
    written.push(path);
  };

  await write('metrics.csv', metricsCsv(input.metrics));
  await write('metrics.json', metricsJson(input.metrics));

  const planned: ReportChart[] = [];
  if (input.history.length > 0) {
    planned.push({ name: 'training-curves', title: 'Training curves', spec: trainingCurvesSpec(input.history) });
  }
  if (input.metrics.length > 0) {
    planned.push({ name: 'metrics', title: 'Metrics per method', spec: metricBarsSpec(input.metrics.filter((r) => !isBreakdownMetric(r))) });
  }
  planned.push(...extra);
  const charts: WrittenChart[] = [];
  for (const c of planned) {
    const { svg, files } = await renderChart(c.spec, join(runDir, 'charts', c.name));
    written.push(...files);
    charts.push({ name: c.name, title: c.title, svg });
  }

  let galleryPng: Buffer | undefined;
  if (input.gallery && input.gallery.rows.length > 0) {
    galleryPng = await renderGallery(input.gallery);
    const path = join(runDir, GALLERY_FILE);
    await writeFileAtomic(path, galleryPng);
    written.push(path);
  }

  await write('report.md', runReportMarkdown(input, charts));
  await write('report.html', runReportHtml(input, charts, galleryPng));
  return written;
}

function checkChartNames(charts: ReportChart[]): void {
  const seen = new Set<string>(BUILTIN_RUN_CHARTS);
  for (const c of charts) {
    if (!SAFE_NAME.test(c.name) || seen.has(c.name)) {
      throw new GazeError(`chart name "${c.name}" is ${seen.has(c.name) ? 'already used' : 'not a plain file stem'}`, {
        where: `charts[${charts.indexOf(c)}].name`,
        hint: `use letters, digits, ".", "_" and "-", unique, and not ${BUILTIN_RUN_CHARTS.join(' or ')}`,
      });
    }
    seen.add(c.name);
  }
}

/** The gallery's file in the run directory. */
export const GALLERY_FILE = 'gallery.png';

function galleryCaption(gallery: GalleryInput): string {
  const n = gallery.images.length;
  return `The same ${n} image${n === 1 ? '' : 's'} (top row, captioned with the explained class) and each method's map over them (jet colour map, ${Math.round((gallery.alpha ?? GALLERY_ALPHA) * 100)}% blend), one row per method: ${gallery.rows.map((r) => r.method).join(', ')}.`;
}

function title(input: RunReportInput): string {
  return `${input.experiment} — run ${input.runId}`;
}

/** report.md: title, notes, pivoted metrics, chart images (relative links), environment, config. */
export function runReportMarkdown(input: RunReportInput, charts: ReadonlyArray<{ name: string; title: string }>): string {
  const out: string[] = [`# ${escapeMarkdown(title(input))}`, ''];
  out.push(`Experiment: ${escapeMarkdown(input.experiment)}  `, `Run: ${escapeMarkdown(input.runId)}`, '');
  for (const note of input.notes ?? []) out.push(`- ${escapeMarkdown(note)}`);
  if (input.notes?.length) out.push('');

  out.push('## Metrics', '');
  if (input.metrics.length === 0) {
    out.push('No metrics were computed.', '');
  } else {
    const groups = reportMetricGroups(input.metrics);
    for (const [heading, rows] of metricTables(groups)) {
      if (heading) out.push(`### ${heading}`, '');
      out.push(markdownTable(metricsPivot(rows)), '');
    }
    out.push(
      'Cells are `value [ci_low, ci_high]` where a CI exists. ' +
        (groups.breakdowns > 0 ? `${groups.breakdowns} breakdown rows (per class, layer or percentage) are in the files. ` : '') +
        'Full precision: [metrics.csv](metrics.csv), [metrics.json](metrics.json).',
      '',
    );
  }

  if (charts.length > 0) {
    out.push('## Charts', '');
    for (const c of charts) {
      const alt = escapeMarkdown(c.title);
      out.push(`### ${alt}`, '', `[![${alt}](charts/${c.name}.png)](charts/${c.name}.svg)`, '');
    }
  }

  if (input.gallery && input.gallery.rows.length > 0) {
    out.push('## Explanations', '', escapeMarkdown(galleryCaption(input.gallery)), '', `![Explanations](${GALLERY_FILE})`, '');
  }

  out.push('## Environment', '');
  const env = envTable(input.env);
  out.push(env.rows.length > 0 ? markdownTable(env) : 'No environment recorded.', '');

  out.push('## Config', '', markdownFence(input.configYaml, 'yaml'), '');
  return out.join('\n');
}

/** report.html: the same content as one self-contained page; every value escaped, charts inline as SVG. */
export function runReportHtml(input: RunReportInput, charts: readonly WrittenChart[], galleryPng?: Buffer): string {
  const parts: string[] = [
    `<h1>${escapeHtml(input.experiment)}</h1>`,
    `<p class="subtitle">run <span class="run-id">${escapeHtml(input.runId)}</span></p>`,
  ];
  if (input.notes?.length) {
    parts.push(`<ul class="notes">${input.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`);
  }

  parts.push('<h2>Metrics</h2>');
  if (input.metrics.length === 0) {
    parts.push('<p>No metrics were computed.</p>');
  } else {
    for (const [heading, rows] of metricTables(reportMetricGroups(input.metrics))) {
      if (heading) parts.push(`<h3>${escapeHtml(heading)}</h3>`);
      parts.push(htmlTable(metricsPivot(rows), { id: heading === 'Explanation methods' ? 'metrics-methods' : 'metrics' }));
    }
    parts.push('<p class="subtitle">Cells are <code>value [ci_low, ci_high]</code> where a CI exists; breakdowns (per class, layer or percentage) are in the tidy rows.</p>');
    parts.push(`<details><summary>All rows (tidy)</summary>${htmlTable(metricsTidy(input.metrics), { id: 'metrics-tidy' })}</details>`);
  }

  if (charts.length > 0) {
    parts.push('<h2>Charts</h2>');
    for (const c of charts) parts.push(htmlFigure(c.svg, `chart-${c.name}`, c.title));
  }

  if (input.gallery && galleryPng) {
    parts.push('<h2>Explanations</h2>', `<p class="subtitle">${escapeHtml(galleryCaption(input.gallery))}</p>`);
    parts.push(`<figure id="gallery"><img src="data:image/png;base64,${galleryPng.toString('base64')}" alt="explanation maps, one row per method"></figure>`);
  }

  parts.push('<h2>Environment</h2>');
  const env = envTable(input.env);
  parts.push(env.rows.length > 0 ? htmlTable(env, { id: 'environment' }) : '<p>No environment recorded.</p>');

  parts.push('<h2>Config</h2>', `<pre><code class="language-yaml">${escapeHtml(input.configYaml)}</code></pre>`);
  parts.push('<footer>Written by @gaze/report. Full-precision values are in metrics.csv and metrics.json next to this file.</footer>');
  return htmlPage(title(input), parts.join('\n'));
}

/** The metric tables a report shows: one untitled table when only one group has rows, else the classifier's and the methods'. */
function metricTables(groups: ReturnType<typeof reportMetricGroups>): [string, MetricRow[]][] {
  const tables: [string, MetricRow[]][] = [];
  if (groups.classifier.length > 0) tables.push(['Classifier', groups.classifier]);
  if (groups.methods.length > 0) tables.push(['Explanation methods', groups.methods]);
  return tables.length === 1 ? [['', tables[0][1]]] : tables;
}
