import { setPath } from './compose.js';
import { validateConfigValue, type LoadedConfig } from './load-config.js';
import type { ExperimentConfig } from './schema.js';
import { ConfigError } from './yaml-source.js';

/** One run an experiment file asks for: its config, seed and the sweep point it stands for. */
export interface PlannedRun {
  /** Suffix of the run id (empty for a single run): `p<point>-s<seed>` or `<variant>-s<seed>`. */
  suffix: string;
  seed: number;
  /** Key path -> value of this run's sweep point; `variant` names its ablation variant. */
  params: Record<string, unknown>;
  config: ExperimentConfig;
}

/** All combinations of the grid's values, in the order the keys and values are written. */
export function gridPoints(grid: Record<string, unknown[]>): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  return points;
}

/**
 * Expands `ablation:` variants x `sweep.grid` points x `sweep.seeds` into runs. Without either
 * block this is the one run of the file. The full method is always the first variant.
 */
export function planRuns(loaded: LoadedConfig): PlannedRun[] {
  // loadExperimentConfig has refused grids above sweep.maxRuns, so listing them is bounded.
  const { config } = loaded;
  const variants = [{ name: 'full', set: {} as Record<string, unknown> }, ...config.ablation];
  const points = gridPoints(config.sweep?.grid ?? {});
  const seeds = config.sweep?.seeds ?? [config.experiment.seed];
  const single = variants.length === 1 && points.length === 1 && seeds.length === 1;
  const runs: PlannedRun[] = [];
  for (const variant of variants) {
    for (const [k, point] of points.entries()) {
      for (const seed of seeds) {
        const value = structuredClone(loaded.raw);
        delete value.sweep;
        delete value.ablation;
        for (const [path, v] of Object.entries({ ...variant.set, ...point })) setPath(value, path.split('.'), structuredClone(v));
        setPath(value, ['experiment', 'seed'], seed);
        const what = [variants.length > 1 ? `variant '${variant.name}'` : '', ...Object.entries(point).map(([k2, v]) => `${k2}=${JSON.stringify(v)}`)].filter(Boolean).join(', ');
        const checked = validateConfigValue(value, () => `${loaded.file} (${what || 'run'})`);
        if (!checked.config) throw new ConfigError(checked.problems);
        const parts = [variants.length > 1 ? variant.name : '', points.length > 1 ? `p${k + 1}` : '', `s${seed}`].filter(Boolean);
        runs.push({
          suffix: single ? '' : parts.join('-'),
          seed,
          params: { ...(variants.length > 1 ? { variant: variant.name } : {}), ...point },
          config: checked.config,
        });
      }
    }
  }
  return runs;
}
