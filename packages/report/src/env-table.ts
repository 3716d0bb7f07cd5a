import type { TextTable } from './text-table.js';

/**
 * env.json as a two-column table: nested objects flattened to dotted keys (`versions.tfjs`),
 * arrays and other values as compact JSON, strings as they are.
 */
export function envTable(env: Record<string, unknown>): TextTable {
  const rows: string[][] = [];
  const walk = (value: unknown, path: string): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
      return;
    }
    rows.push([path, typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))]);
  };
  for (const [k, v] of Object.entries(env)) walk(v, k);
  return { columns: [{ title: 'key' }, { title: 'value' }], rows };
}
