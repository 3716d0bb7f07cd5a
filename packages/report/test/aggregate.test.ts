import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { aggregateRuns, summaryCsv, writeAggregateReport, type RunSummary } from '../src/index.js';
import { XSS } from './fixtures.js';

function run(runId: string, seed: number, params: Record<string, unknown>, values: Record<string, number>): RunSummary {
  return {
    runId,
    seed,
    params,
    metrics: Object.entries(values).map(([k, value]) => {
      const [method, metric] = k.split('::');
      return { method, metric, value, n: 50 };
    }),
    history: [],
  };
}

// Hand-computed: values 0.8, 0.9, 1.0 -> mean 0.9, std 0.1, half width t(0.975, 2) * 0.1 / sqrt(3)
// = 4.302653 * 0.0577350 = 0.248413.
const T_975_2 = 4.302653;
const HALF = (T_975_2 * 0.1) / Math.sqrt(3);

describe('aggregateRuns', () => {
  test('per-class rows aggregate apart from their metric\'s headline row and keep their class', () => {
    const runs = [0.6, 0.8].map((v, seed) => ({
      runId: `s${seed}`,
      seed,
      params: {},
      metrics: [
        { method: 'gradcam', metric: 'pointing_game', value: v, n: 2 },
        { method: 'gradcam', metric: 'pointing_game', class: 'red, circle', value: v / 2, n: 5 },
        { method: 'gradcam', metric: 'pointing_game', class: '=cross', value: 1, n: 5 },
      ],
      history: [],
    }));
    const rows = aggregateRuns(runs).rows;
    expect(rows.map((r) => [r.metric, r.class, r.n])).toEqual([
      ['pointing_game', undefined, 2],
      ['pointing_game', 'red, circle', 2],
      ['pointing_game', '=cross', 2],
    ]);
    expect(rows.map((r) => r.mean)).toEqual([expect.closeTo(0.7, 12), expect.closeTo(0.35, 12), 1]);
    const lines = summaryCsv(aggregateRuns(runs)).split('\n');
    expect(lines[0]).toBe('method,metric,class,mean,std,n,ci_low,ci_high');
    expect(lines[2]).toMatch(/^gradcam,pointing_game,"red, circle",0\.35/);
    // A class name a spreadsheet would run as a formula is neutralised.
    expect(lines[3]).toMatch(/^gradcam,pointing_game,'=cross,1,0,2,/);
  });

  test('mean, sample std and 95% t-interval over seeds, per sweep point, method and metric', () => {
    const runs = [0.8, 0.9, 1.0].flatMap((v, seed) => [
      run(`lr01-s${seed}`, seed, { 'train.lr': 0.01 }, { 'gradcam::acc': v, 'rise::acc': 0.5 }),
      run(`lr1-s${seed}`, seed, { 'train.lr': 0.1 }, { 'gradcam::acc': 2 * v }),
    ]);
    const table = aggregateRuns(runs);
    expect(table.params).toEqual(['train.lr']);
    expect(table.rows.map((r) => [r.point, r.method, r.metric, r.n])).toEqual([
      ['train.lr=0.01', 'gradcam', 'acc', 3],
      ['train.lr=0.01', 'rise', 'acc', 3],
      ['train.lr=0.1', 'gradcam', 'acc', 3],
    ]);
    const [a, b, c] = table.rows;
    expect(a.mean).toBeCloseTo(0.9, 12);
    expect(a.std).toBeCloseTo(0.1, 12);
    expect(HALF).toBeCloseTo(0.2484, 4);
    expect(a.ci_low).toBeCloseTo(0.9 - HALF, 6);
    expect(a.ci_high).toBeCloseTo(0.9 + HALF, 6);
    expect(b).toMatchObject({ mean: 0.5, std: 0, ci_low: 0.5, ci_high: 0.5 });
    expect(c.mean).toBeCloseTo(1.8, 12);
    expect(c.std).toBeCloseTo(0.2, 12);
    expect(c.ci_high! - c.mean).toBeCloseTo(2 * HALF, 6);
  });

  test('one run: std and CI are absent; NaN values are left out of mean and n', () => {
    const table = aggregateRuns([
      run('a', 1, {}, { 'm::x': 0.4, 'm::y': NaN }),
      run('b', 2, {}, { 'm::y': 0.6 }),
    ]);
    expect(table.params).toEqual([]);
    expect(table.rows).toEqual([
      { params: {}, point: '', method: 'm', metric: 'x', mean: 0.4, n: 1 },
      { params: {}, point: '', method: 'm', metric: 'y', mean: 0.6, n: 1 },
    ]);
  });

  test("one run per point keeps that run's own (bootstrap) CI; two runs use the t-interval", () => {
    const withCi = (runId: string, seed: number, point: number, value: number): RunSummary => ({
      runId,
      seed,
      params: { p: point },
      metrics: [{ method: 'gradcam', metric: 'deletion_auc', value, n: 100, ci_low: value - 0.05, ci_high: value + 0.04 }],
      history: [],
    });
    const table = aggregateRuns([withCi('a', 1, 1, 0.3), withCi('b', 1, 2, 0.5), withCi('c', 2, 2, 0.7)]);
    const [single, pair] = table.rows;
    expect(single.ci_low).toBeCloseTo(0.25, 12);
    expect(single.ci_high).toBeCloseTo(0.34, 12);
    expect(single.std).toBeUndefined();
    // mean 0.6, std 0.141421, half width 12.706205 * 0.141421 / sqrt(2) = 1.2706205
    expect(pair.ci_low).toBeCloseTo(0.6 - 1.2706205, 6);
    expect(pair.ci_high).toBeCloseTo(0.6 + 1.2706205, 6);
  });

  test('two runs: t(0.975, 1) = 12.706205', () => {
    const [row] = aggregateRuns([run('a', 1, {}, { 'm::x': 1 }), run('b', 2, {}, { 'm::x': 2 })]).rows;
    expect(row.std).toBeCloseTo(Math.SQRT1_2, 12);
    expect(row.ci_high! - 1.5).toBeCloseTo((12.706205 * Math.SQRT1_2) / Math.SQRT2, 5);
  });
});

describe('summary.csv and writeAggregateReport', () => {
  const runs = [
    run('s1', 1, { 'train.lr': 0.01, method: 'x,y' }, { 'gradcam::acc': 0.8 }),
    run('s2', 2, { 'train.lr': 0.01, method: 'x,y' }, { 'gradcam::acc': 1.0 }),
    run('s3', 3, { 'train.lr': 0.1, method: 'z' }, { [`${XSS}::acc`]: 0.25 }),
  ];

  test('summary.csv exact text: params as columns, full precision, blanks for one run', () => {
    const t = 12.706204736174696; // t(0.975, 1)
    const half = (t * Math.SQRT2 * 0.1) / Math.SQRT2;
    const text = summaryCsv(aggregateRuns(runs));
    const lines = text.split('\n');
    expect(lines[0]).toBe('train.lr,param:method,method,metric,class,mean,std,n,ci_low,ci_high');
    expect(lines[1]).toMatch(/^0\.01,"x,y",gradcam,acc,,0\.9,0\.1414213562373\d+,2,/);
    const [lo, hi] = lines[1].split(',').slice(-2).map(Number);
    expect(lo).toBeCloseTo(0.9 - half, 6);
    expect(hi).toBeCloseTo(0.9 + half, 6);
    expect(lines[2]).toBe('0.1,z,<script>alert(1)</script>,acc,,0.25,,1,,');
    expect(lines).toHaveLength(4);
  });

  test('writes summary.{csv,md,html} and charts/summary.*, escaped and self-contained', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gaze-agg-'));
    const files = await writeAggregateReport(dir, 'shapes <sweep>', runs);
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual([
      'summary.csv',
      'charts/summary.vl.json',
      'charts/summary.svg',
      'charts/summary.png',
      'summary.md',
      'summary.html',
    ]);
    const md = readFileSync(join(dir, 'summary.md'), 'utf8');
    expect(md).toContain('# shapes &lt;sweep&gt; — summary over 3 runs');
    expect(md).toContain('| train.lr | param:method | method | metric | class | mean | std | n | ci_low | ci_high |');
    expect(md).toContain('| 0.1 | z | &lt;script&gt;alert(1)&lt;/script&gt; | acc |  | 0.25 |  | 1 |  |  |');
    const html = readFileSync(join(dir, 'summary.html'), 'utf8');
    expect(html).not.toContain('<script');
    expect(html).toContain('<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>');
    expect(html).not.toMatch(/\b(src|href)=|url\(http|https?:\/\//);
    // Bars coloured by sweep point: a legend with both points.
    const svg = readFileSync(join(dir, 'charts/summary.svg'), 'utf8');
    expect(svg).toContain('>sweep point</text>');
    expect(svg).toContain('>train.lr=0.01, method=x,y</text>');
  });

  test('no runs is a GazeError', async () => {
    await expect(writeAggregateReport(tmpdir(), 'e', [])).rejects.toThrowError(/no finished runs/);
  });
});
