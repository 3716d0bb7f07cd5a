import type { TopLevelSpec } from 'vega-lite';

/** One ablated unit: its channel index and the accuracy drop when it is zeroed. */
export interface UnitDrop {
  unit: number;
  drop: number;
}

/**
 * The accuracy drop of each ablated unit of a tap as bars, largest first (at most `limit` bars,
 * the largest drops): the unit-importance figure of the ablation studies.
 */
export function unitAblationSpec(rows: UnitDrop[], options: { tap: string; limit?: number }): TopLevelSpec {
  const limit = options.limit ?? 32;
  const shown = [...rows].sort((a, b) => b.drop - a.drop || a.unit - b.unit).slice(0, limit);
  const title = `Accuracy drop when one unit of ${options.tap} is zeroed${rows.length > shown.length ? ` (largest ${shown.length} of ${rows.length})` : ''}`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description: title,
    title,
    width: Math.max(120, 14 * shown.length),
    height: 200,
    data: { values: shown.map((r, rank) => ({ unit: String(r.unit), drop: r.drop, rank })) },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'unit', type: 'nominal', title: 'unit (channel)', sort: { field: 'rank', order: 'ascending' } },
      y: { field: 'drop', type: 'quantitative', title: 'accuracy drop' },
    },
  };
}
