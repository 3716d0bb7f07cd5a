/** A table of display text, rendered to Markdown or HTML (each renderer escapes the text for its format). */
export interface TextTable {
  columns: Array<{ title: string; /** right-aligned */ numeric?: boolean }>;
  rows: string[][];
}
