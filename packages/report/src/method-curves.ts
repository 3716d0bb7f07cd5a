import type { TopLevelSpec } from 'vega-lite';

/** One method's curve (e.g. the mean deletion curve): y against x. */
export interface MethodCurve {
  method: string;
  x: number[];
  y: number[];
}

/**
 * Curves of several methods in one panel, a line per method (e.g. deletion: the class score as
 * pixels are removed). Data inline in long form `{method, x, y}`.
 */
export function methodCurvesSpec(curves: MethodCurve[], options: { title: string; xTitle: string; yTitle: string }): TopLevelSpec {
  const values = curves.flatMap((c) => c.x.map((x, i) => ({ method: c.method, x, y: Number.isFinite(c.y[i]) ? c.y[i] : null })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description: options.title,
    title: options.title,
    width: 360,
    height: 220,
    data: { values },
    transform: [{ filter: 'isValid(datum.y)' }],
    mark: { type: 'line' },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.xTitle },
      y: { field: 'y', type: 'quantitative', title: options.yTitle, scale: { zero: true } },
      color: { field: 'method', type: 'nominal', title: 'method' },
    },
  };
}
