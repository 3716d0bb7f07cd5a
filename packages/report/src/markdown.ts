import type { TextTable } from './text-table.js';

/**
 * Text made safe for a Markdown table cell or list item: `\ | * [ ] `` ` `` backslash-escaped,
 * `& < >` as entities (so `<script>` shows as text), line breaks as spaces.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\\|*[\]`]/g, (c) => `\\${c}`)
    .replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'))
    .replace(/\r?\n|\r/g, ' ');
}

/** A GitHub-flavoured Markdown table; numeric columns right-aligned. */
export function markdownTable(table: TextTable): string {
  const head = `| ${table.columns.map((c) => escapeMarkdown(c.title)).join(' | ')} |`;
  const rule = `| ${table.columns.map((c) => (c.numeric ? '---:' : '---')).join(' | ')} |`;
  const body = table.rows.map((r) => `| ${r.map(escapeMarkdown).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

/** A fenced code block that `text` cannot close early: the fence is longer than any backtick run inside. */
export function markdownFence(text: string, lang = ''): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${text.endsWith('\n') ? text : `${text}\n`}${fence}`;
}
