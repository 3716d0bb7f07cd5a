import type { TextTable } from './text-table.js';

/** Text safe for HTML content and double- or single-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * The page's policy: nothing may load (no network, no other file), no script runs; only the
 * inline `<style>` and inline SVG apply. Even a value that slipped through escaping stays inert.
 */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const REPORT_CSS = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --stripe: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.subtitle { color: var(--muted); margin: 0 0 12px; }
ul.notes { margin: 8px 0; padding-left: 20px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.93em; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: var(--stripe); font-weight: 600; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 12px 0 24px; }
figcaption { color: var(--muted); margin-bottom: 6px; }
figure svg { max-width: 100%; height: auto; display: block; }
figure img { max-width: 100%; height: auto; display: block; image-rendering: auto; }
pre { background: var(--stripe); border: 1px solid var(--line); border-radius: 6px; padding: 12px; overflow-x: auto; font: 13px/1.45 "DejaVu Sans Mono", ui-monospace, monospace; }
details > summary { cursor: pointer; color: var(--accent); margin: 8px 0; }
footer { color: var(--muted); font-size: 0.85em; margin-top: 40px; }
`;

/** A whole self-contained page: inline CSS, the CSP above, no script, no external reference. */
export function htmlPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/** An HTML table; every header and cell escaped, numeric columns right-aligned (class `num`). */
export function htmlTable(table: TextTable, attrs: { id?: string; caption?: string } = {}): string {
  const cls = (numeric?: boolean) => (numeric ? ' class="num"' : '');
  const id = attrs.id ? ` id="${escapeHtml(attrs.id)}"` : '';
  const caption = attrs.caption ? `<caption>${escapeHtml(attrs.caption)}</caption>` : '';
  const head = table.columns.map((c) => `<th scope="col"${cls(c.numeric)}>${escapeHtml(c.title)}</th>`).join('');
  const body = table.rows
    .map((r) => `<tr>${r.map((v, i) => `<td${cls(table.columns[i]?.numeric)}>${escapeHtml(v)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<div class="table-wrap"><table${id}>${caption}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div>`;
}

/**
 * A standalone SVG (as vega writes it) made ready to sit inside an HTML page: the namespace
 * attributes dropped (HTML's parser supplies them), every `id` and reference to it prefixed so
 * two charts on one page cannot share clip paths or gradients, and an accessible label.
 */
export function inlineSvg(svg: string, idPrefix: string, label: string): string {
  const prefix = idPrefix.replace(/[^A-Za-z0-9_-]/g, '_');
  return svg
    .replace(/^<svg\b([^>]*)>/, (_, attrs: string) => {
      const kept = attrs.replace(/\s+xmlns(:\w+)?="[^"]*"/g, '');
      return `<svg${kept} role="img" aria-label="${escapeHtml(label)}">`;
    })
    .replace(/\bid="([^"]*)"/g, (_, id: string) => `id="${prefix}-${id}"`)
    .replace(/url\(#([^)]*)\)/g, (_, id: string) => `url(#${prefix}-${id})`)
    .replace(/\bhref="#([^"]*)"/g, (_, id: string) => `href="#${prefix}-${id}"`);
}

/** A chart figure (`id` = idPrefix): caption, then the inline SVG. */
export function htmlFigure(svg: string, idPrefix: string, caption: string): string {
  const head = `<figure id="${escapeHtml(idPrefix)}"><figcaption>${escapeHtml(caption)}</figcaption>`;
  return `${head}\n${inlineSvg(svg, idPrefix, caption)}\n</figure>`;
}
