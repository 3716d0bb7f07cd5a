import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGazeError } from '@gaze/engine';
import { describe, expect, test } from 'vitest';
import { metricsCsv, metricsJson, parseCsv, parseMetricsCsv, readMetricsCsv } from '../src/index.js';
import { METRICS } from './fixtures.js';

describe('metrics.csv', () => {
  test('exact text: header, full precision, empty CI cells, quoting', () => {
    expect(metricsCsv(METRICS)).toBe(
      [
        'method,metric,class,value,n,ci_low,ci_high',
        'gradcam,pointing_game,,0.8123456,100,0.75,0.87',
        'gradcam,deletion_auc,,0.12,100,,',
        '"rise, v2",pointing_game,,0.3333333333333333,100,,',
        '"rise, v2",deletion_auc,,0.2,100,,',
        '<script>alert(1)</script>,pointing_game,,0.5,100,,',
        '',
      ].join('\n'),
    );
  });

  test('quotes embedded quotes, line breaks and edge spaces; writes NaN and Infinity by name', () => {
    const text = metricsCsv([
      { method: 'say "hi"', metric: 'a\nb', value: NaN, n: 0 },
      { method: ' padded', metric: 'm', value: Infinity, n: 1, ci_low: -Infinity, ci_high: 1e-20 },
    ]);
    expect(text).toBe(
      'method,metric,class,value,n,ci_low,ci_high\n"say ""hi""","a\nb",,NaN,0,,\n" padded",m,,Infinity,1,-Infinity,1e-20\n',
    );
  });

  test('readMetricsCsv round trip gives the same rows (same doubles, CI only where written)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gaze-csv-'));
    const rows = [
      ...METRICS,
      { method: 'say "hi"', metric: 'a\nb', value: NaN, n: 0 },
      { method: 'x', metric: 'tiny', value: 0.1 + 0.2, n: 3, ci_low: -Infinity, ci_high: 1.2345678901234567e-300 },
      { method: 'gradcam', metric: 'pointing_game', class: 'red circle, large', value: 0.75, n: 12 },
    ];
    writeFileSync(join(dir, 'metrics.csv'), metricsCsv(rows));
    expect(readMetricsCsv(join(dir, 'metrics.csv'))).toEqual(rows);
  });

  test('a wrong header or a non-number is a GazeError naming file:line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gaze-csv-'));
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'method,metric,value\n');
    expect(() => readMetricsCsv(bad)).toThrowError(/not a metrics table/);
    writeFileSync(bad, 'method,metric,value,n,ci_low,ci_high\na,b,0.5,10,,\na,c,oops,10,,\n');
    try {
      readMetricsCsv(bad);
      expect.unreachable();
    } catch (e) {
      expect(isGazeError(e)).toBe(true);
      expect((e as Error & { where: string }).where).toBe(`${bad}:3`);
      expect((e as Error).message).toBe('value is not a number: "oops"');
    }
    expect(() => readMetricsCsv(join(dir, 'missing.csv'))).toThrowError(/cannot read metrics file/);
  });

  test('a metrics.csv written before the class column still reads (no class on its rows)', () => {
    expect(parseMetricsCsv('method,metric,value,n,ci_low,ci_high\ngradcam,pointing_game,0.5,10,0.4,0.6\n')).toEqual([
      { method: 'gradcam', metric: 'pointing_game', value: 0.5, n: 10, ci_low: 0.4, ci_high: 0.6 },
    ]);
    expect(() => parseMetricsCsv('method,metric,value,n,ci_low,ci_high\na,b,,0.5,10,,\n')).toThrowError(/expected 6 fields, found 7/);
  });

  test('parseCsv handles CRLF, a BOM, a missing final newline and empty quoted fields', () => {
    expect(parseCsv('\uFEFFa,b\r\n"x,y",""\r\n1,2')).toEqual([
      ['a', 'b'],
      ['x,y', ''],
      ['1', '2'],
    ]);
  });

  test('metrics.json holds the same rows as objects', () => {
    const parsed = JSON.parse(metricsJson(METRICS));
    expect(parsed).toEqual(METRICS);
    expect(Object.keys(parsed[1])).toEqual(['method', 'metric', 'value', 'n']);
  });
});
