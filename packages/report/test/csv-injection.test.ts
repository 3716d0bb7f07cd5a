import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { formatCsv, metricsCsv, parseCsv, parseMetricsCsv } from '../src/index.js';

// A class folder, method or evaluator name is user text: in a CSV a spreadsheet opens, a cell
// starting with = + - @ (or a tab / carriage return) runs as a formula. Gaze writes such cells
// with a leading apostrophe and reads them back exactly.
const HOSTILE = ["=cmd|' /C calc'!A0", '+1+1', '-2+3', '@SUM(A1)', '\t=1', '\r=1', "'quoted", "''twice", 'plain, with comma', ' padded ', 'say "hi"'];

describe('CSV cells a spreadsheet would run', () => {
  it('get a leading apostrophe, quoting stays RFC 4180, numbers (negative ones too) are left alone', () => {
    const text = formatCsv(['name', 'value'], [...HOSTILE.map((h) => [h, -0.5]), ['ok', 1e-7]]);
    // What a spreadsheet sees: every hostile cell starts with ' (after CSV unquoting), never with = + - @ tab or CR.
    const raw = parse(text, { relax_column_count: true }) as string[][];
    for (const [cell] of raw.slice(1, HOSTILE.length + 1)) {
      if (!/^\s?[a-z]/.test(cell)) expect(cell.startsWith("'"), JSON.stringify(cell)).toBe(true);
    }
    expect(raw.slice(1).map((r) => r[1])).toEqual([...HOSTILE.map(() => '-0.5'), '1e-7']);
    expect(raw[1][0]).toBe("'=cmd|' /C calc'!A0");

  });

  it('read back losslessly', () => {
    const rows = HOSTILE.map((h, i) => [h, i]);
    expect(parseCsv(formatCsv(['name', 'i'], rows)).slice(1)).toEqual(rows.map(([h, i]) => [h, String(i)]));
    const metrics = HOSTILE.map((h, i) => ({ method: h, metric: 'pointing_game', class: h, value: -(i + 1) / 3, n: 4 }));
    expect(parseMetricsCsv(metricsCsv(metrics))).toEqual(metrics);
  });
});
