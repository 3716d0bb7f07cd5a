import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { metricBarsSpec, renderChart, trainingCurvesSpec } from '../src/index.js';
import { HISTORY, METRICS } from './fixtures.js';

const count = (text: string, needle: string) => text.split(needle).length - 1;
/** Texts of the `<text>` elements inside the SVG groups of one vega role (e.g. `axis-title`). */
const roleTexts = (svg: string, role: string) =>
  [...svg.matchAll(new RegExp(`class="mark-text role-${role}"[^>]*>(.*?)</g>`, 'g'))].flatMap((m) =>
    [...m[1].matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]),
  );

describe('renderChart', () => {
  test('training curves: 4 line paths (train/val x loss/accuracy), axis titles, the font, 3 files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gaze-chart-'));
    const { svg, files } = await renderChart(trainingCurvesSpec(HISTORY), join(dir, 'curves'));
    expect(files).toEqual(['curves.vl.json', 'curves.svg', 'curves.png'].map((f) => join(dir, f)));
    expect(readFileSync(files[1], 'utf8')).toBe(svg);
    expect(count(svg, 'aria-roledescription="line mark"')).toBe(4);
    expect(count(svg, 'role="graphics-symbol" aria-roledescription="point"')).toBe(4 * HISTORY.length);
    expect(roleTexts(svg, 'axis-title')).toEqual(['epoch', 'loss', 'epoch', 'accuracy']);
    expect(roleTexts(svg, 'title-text')).toEqual(['loss', 'accuracy']);
    expect(roleTexts(svg, 'legend-label')).toEqual(['train', 'val']);
    expect(svg).toContain('font-family="DejaVu Sans"');
    // The first train-loss line runs through epochs 1..5: 5 points, so 4 segments.
    const d = /aria-label="epoch: 1; loss: 2; split: train"[^>]*d="([^"]+)"/.exec(svg)![1];
    expect(count(d, 'L')).toBe(4);
    const spec = JSON.parse(readFileSync(files[0], 'utf8'));
    expect(spec.config.font).toBe('DejaVu Sans');
    expect(spec.data.values).toHaveLength(4 * HISTORY.length);
  });

  test('PNG is the SVG at 2x, non-trivial size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gaze-chart-'));
    const { svg, files } = await renderChart(trainingCurvesSpec(HISTORY), join(dir, 'curves'));
    const [, w, h] = /^<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
    const meta = await sharp(files[2]).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([2 * w, 2 * h]);
    expect(meta.width).toBeGreaterThan(1000);
    expect(meta.width).toBeLessThan(2400);
    expect(meta.height).toBeGreaterThan(300);
    expect(meta.height).toBeLessThan(1200);
    const bytes = statSync(files[2]).size;
    expect(bytes).toBeGreaterThan(10_000);
    expect(bytes).toBeLessThan(500_000);
    // Text rendered: the picture is not just lines; many distinct grey levels from anti-aliased glyphs.
    const { channels } = await sharp(files[2]).stats();
    expect(channels[0].stdev).toBeGreaterThan(10);
  });

  test('deterministic: the same spec gives the same bytes twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gaze-chart-'));
    const a = await renderChart(trainingCurvesSpec(HISTORY), join(dir, 'a'));
    const b = await renderChart(trainingCurvesSpec(HISTORY), join(dir, 'b'));
    for (let i = 0; i < 3; i++) expect(readFileSync(b.files[i]).equals(readFileSync(a.files[i]))).toBe(true);
  });

  test('metric bars: one panel per metric, one bar per row, error bars only where a CI or std exists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gaze-chart-'));
    const { svg } = await renderChart(metricBarsSpec(METRICS), join(dir, 'bars'));
    expect(count(svg, 'aria-roledescription="bar"')).toBe(METRICS.length);
    expect(count(svg, 'aria-roledescription="rule mark"')).toBe(1); // only gradcam/pointing_game has a CI
    expect(roleTexts(svg, 'title-text')).toEqual(['pointing_game', 'deletion_auc']);
    expect(svg).toContain('err_low: 0.75; err_high: 0.87');
    const withStd = await renderChart(
      metricBarsSpec([{ method: 'a', metric: 'm', value: 0.5, std: 0.1 }]),
      join(dir, 'std'),
    );
    expect(withStd.svg).toContain('err_low: 0.4; err_high: 0.6');
  });
});
