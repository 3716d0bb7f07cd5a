import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';

/**
 * Every CSV Gaze writes (metrics.csv, metrics_per_image.csv, unit_ablation.csv, summary.csv,
 * index.csv) goes through `formatCsv`, and every one it reads back through `parseCsv`: RFC 4180
 * (csv-stringify / csv-parse), comma separated, `\n` line ends, a field quoted (with `"` doubled)
 * when it holds a comma, a quote, a line break or leading/trailing space. Numbers are written
 * with full precision (JavaScript's shortest round-trip form), so parsing the text gives back the
 * same doubles; `undefined`/`null` is an empty cell.
 *
 * Spreadsheet safety (OWASP's CSV injection advice): a text cell that starts with `=`, `+`, `-`,
 * `@`, a tab or a carriage return would run as a formula in Excel, LibreOffice or Google Sheets
 * (a class folder named `=cmd|' /C calc'!A0`), so it is written with a leading `'`, which
 * spreadsheets show as text. A text cell that starts with `'` itself gets one too, so `parseCsv`
 * can remove exactly one leading `'` from every cell and read back what was written. Numbers are
 * left alone (`-0.5` stays a number).
 */
export type CsvCell = string | number | null | undefined;

/** Characters that make a spreadsheet read a cell as a formula, and the escape itself. */
const NEEDS_ESCAPE = /^[=+\-@\t\r']/;

/** A text cell as written: `'` prefixed when a spreadsheet would read it as a formula (or it starts with `'`). */
function spreadsheetSafe(text: string): string {
  return NEEDS_ESCAPE.test(text) ? `'${text}` : text;
}

/** The inverse of `spreadsheetSafe`, for a cell `formatCsv` wrote. */
function fromSpreadsheetSafe(text: string): string {
  return text.startsWith("'") ? text.slice(1) : text;
}

/** One cell's text as written (before CSV quoting). */
function csvField(v: CsvCell): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'number' ? csvNumber(v) : spreadsheetSafe(v);
}

/** `String(v)` (shortest text that parses back to the same double); NaN and ±Infinity by name. */
export function csvNumber(v: number): string {
  return String(v);
}

export function formatCsv(header: string[], rows: CsvCell[][]): string {
  return stringify(
    [header, ...rows].map((r) => r.map(csvField)),
    { record_delimiter: 'unix', quoted_match: /^\s|\s$/, eof: true },
  );
}

/** Parses CSV text `formatCsv` wrote into rows of string fields; a final line end is optional. */
export function parseCsv(text: string): string[][] {
  const rows = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: false, trim: false }) as string[][];
  return rows.map((r) => r.map(fromSpreadsheetSafe));
}
