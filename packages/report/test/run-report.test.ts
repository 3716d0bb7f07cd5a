import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { metricsCsv, readMetricsCsv, runReportHtml, runReportMarkdown, trainingCurvesSpec, writeRunReport } from '../src/index.js';
import { HISTORY, METRICS, XSS, reportInput } from './fixtures.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gaze-run-'));

describe('writeRunReport', () => {
  test('writes every file, in order, and returns the paths', async () => {
    const dir = tmp();
    const files = await writeRunReport(dir, reportInput());
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual([
      'metrics.csv',
      'metrics.json',
      'charts/training-curves.vl.json',
      'charts/training-curves.svg',
      'charts/training-curves.png',
      'charts/metrics.vl.json',
      'charts/metrics.svg',
      'charts/metrics.png',
      'report.md',
      'report.html',
    ]);
    for (const f of files) expect(existsSync(f)).toBe(true);
    expect(readFileSync(join(dir, 'metrics.csv'), 'utf8')).toBe(metricsCsv(METRICS));
    expect(readMetricsCsv(join(dir, 'metrics.csv'))).toEqual(METRICS);
    expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'))).toEqual(METRICS);
  });

  test('report.md: title, notes, pivoted table, relative chart links, environment, fenced config', async () => {
    const dir = tmp();
    await writeRunReport(dir, reportInput());
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md.startsWith('# shapes-gradcam — run 2026-11-22T10-00-00-seed1\n')).toBe(true);
    expect(md).toContain('- best epoch 5\n- resumed from epoch 3\n');
    expect(md).toContain(
      [
        '| method | pointing_game | deletion_auc |',
        '| --- | ---: | ---: |',
        '| gradcam | 0.8123 \\[0.75, 0.87\\] | 0.12 |',
        '| rise, v2 | 0.3333 | 0.2 |',
        '| &lt;script&gt;alert(1)&lt;/script&gt; | 0.5 |  |',
      ].join('\n'),
    );
    expect(md).toContain('[![Training curves](charts/training-curves.png)](charts/training-curves.svg)');
    expect(md).toContain('[![Metrics per method](charts/metrics.png)](charts/metrics.svg)');
    expect(md).toContain('| versions.tfjs | 4.22.0 |');
    expect(md).toContain('| git.commit | abc123 |');
    expect(md.endsWith('## Config\n\n```yaml\nexperiment: shapes-gradcam\nseed: 1\ntrain:\n  epochs: 5\n```\n')).toBe(true);
  });

  test('report.html: self-contained, every value escaped, charts inline', async () => {
    const dir = tmp();
    const evil = reportInput({
      experiment: `exp ${XSS}`,
      runId: '"><img src=x onerror=alert(2)>',
      notes: [`note ${XSS}`],
      configYaml: `name: "${XSS}"\n`,
      env: { host: '<b>bold</b>' },
    });
    await writeRunReport(dir, evil);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script|<img|<b>/i);
    expect(html).toContain('<h1>exp &lt;script&gt;alert(1)&lt;/script&gt;</h1>');
    expect(html).toContain('<span class="run-id">&quot;&gt;&lt;img src=x onerror=alert(2)&gt;</span>');
    expect(html).toContain('<li>note &lt;script&gt;alert(1)&lt;/script&gt;</li>');
    expect(html).toContain('<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>');
    expect(html).toContain('name: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;');
    expect(html).toContain('<td>&lt;b&gt;bold&lt;/b&gt;</td>');
    // No reference to anything outside the page: no URL, no tag with src/href, no external CSS.
    expect(html).not.toMatch(/https?:|<[^>]*\s(src|href|xlink:href)\s*=|@import|url\(|<link/);
    expect(html).toContain("default-src 'none'");
    // Both charts inline, namespace attributes dropped, ids prefixed per chart.
    expect(html.match(/<svg\b/g)).toHaveLength(2);
    expect(html).toContain('<figure id="chart-training-curves">');
    expect(html).toMatch(/<svg version="1.1" class="marks" width="\d+" height="\d+" viewBox="[^"]+" role="img" aria-label="Training curves">/);
    // The pivoted table: a header row and one row per method.
    const table = /<table id="metrics">([\s\S]*?)<\/table>/.exec(html)![1];
    expect(table.match(/<tr>/g)).toHaveLength(1 + 3);
  });

  test('the classifier and the methods get tables of their own; breakdown rows stay in the files', () => {
    const metrics = [
      { method: 'classifier', metric: 'accuracy', value: 0.9, n: 100 },
      { method: 'gradcam', metric: 'pointing_game', value: 0.8, n: 8, ci_low: 0.7, ci_high: 0.9 },
      { method: 'gradcam', metric: 'pointing_game', class: 'circle', value: 0.75, n: 12 },
      { method: 'gradcam', metric: 'road_morf/10', value: 0.4, n: 12 },
      { method: 'rise', metric: 'pointing_game', value: 0.6, n: 8 },
    ];
    const md = runReportMarkdown(reportInput({ metrics }), []);
    const tables = md.split('\n').filter((l) => l.startsWith('| method'));
    expect(tables).toEqual(['| method | accuracy |', '| method | pointing_game |']);
    expect(md).toContain('### Classifier');
    expect(md).toContain('### Explanation methods');
    expect(md).toContain('| gradcam | 0.8 \\[0.7, 0.9\\] |');
    expect(md).not.toContain('circle');
    expect(md).not.toContain('road_morf/10');
    expect(md).toContain('2 breakdown rows');
    const html = runReportHtml(reportInput({ metrics }), []);
    expect(/<table id="metrics">([\s\S]*?)<\/table>/.exec(html)![1]).toContain('<td>classifier</td><td class="num">0.9</td>');
    expect(/<table id="metrics-methods">([\s\S]*?)<\/table>/.exec(html)![1].match(/<tr>/g)).toHaveLength(1 + 2);
    // the tidy rows keep the breakdown
    const tidy = /<table id="metrics-tidy">([\s\S]*?)<\/table>/.exec(html)![1];
    expect(tidy).toContain('<th scope="col">class</th>');
    expect(tidy).toContain('<td>gradcam</td><td>pointing_game</td><td>circle</td><td class="num">0.75</td>');
  });

  test('no history: no training-curves chart; no metrics: no bar chart and a sentence instead', async () => {
    const dir = tmp();
    const files = await writeRunReport(dir, reportInput({ history: [], metrics: [] }));
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['metrics.csv', 'metrics.json', 'report.md', 'report.html']);
    expect(readFileSync(join(dir, 'metrics.csv'), 'utf8')).toBe('method,metric,class,value,n,ci_low,ci_high\n');
    expect(readFileSync(join(dir, 'metrics.json'), 'utf8')).toBe('[]\n');
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('## Metrics\n\nNo metrics were computed.\n');
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).not.toContain('## Charts');
  });

  test('extra charts are rendered under charts/ and shown; bad names are GazeErrors', async () => {
    const dir = tmp();
    const spec = trainingCurvesSpec(HISTORY.slice(0, 2));
    const files = await writeRunReport(dir, reportInput({ charts: [{ name: 'deletion-curves', title: 'Deletion', spec }] }));
    expect(files).toContain(join(dir, 'charts/deletion-curves.png'));
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('[![Deletion](charts/deletion-curves.png)](charts/deletion-curves.svg)');
    await expect(writeRunReport(tmp(), reportInput({ charts: [{ name: 'metrics', title: 'x', spec }] }))).rejects.toThrowError(
      'chart name "metrics" is already used',
    );
    await expect(writeRunReport(tmp(), reportInput({ charts: [{ name: '../x', title: 'x', spec }] }))).rejects.toThrowError(
      'chart name "../x" is not a plain file stem',
    );
  });

  test('a config with a ``` run gets a longer fence', async () => {
    const dir = tmp();
    await writeRunReport(dir, reportInput({ history: [], metrics: [], configYaml: 'note: "```"\n' }));
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('````yaml\nnote: "```"\n````\n');
  });
});
