/**
 * RFC 4180 CSV, as every Gaze table is written: comma separated, `\n` line ends, a field quoted
 * (with `"` doubled) when it holds a comma, a quote, a line break or leading/trailing space.
 * Numbers are written with full precision (JavaScript's shortest round-trip form), so parsing
 * the text gives back the same doubles; `undefined`/`null` is an empty cell.
 */
export type CsvCell = string | number | null | undefined;

export function csvField(v: CsvCell): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? csvNumber(v) : v;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** `String(v)` (shortest text that parses back to the same double); NaN and ±Infinity by name. */
export function csvNumber(v: number): string {
  return String(v);
}

export function formatCsv(header: string[], rows: CsvCell[][]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

/** Parses CSV text into rows of string fields (quoted fields unquoted); a final line end is optional. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let started = false; // the current row has at least one character (so `""` alone is a row)
  let i = 0;
  const src = text.startsWith('\uFEFF') ? text.slice(1) : text;
  while (i < src.length) {
    const c = src[i];
    started = true;
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += c;
      }
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      started = false;
      if (c === '\r' && src[i + 1] === '\n') i++;
    } else {
      field += c;
    }
    i++;
  }
  if (started) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
