import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GazeError } from '@gaze/engine';
import {
  importHeads,
  loadExperimentConfigValue,
  loadExperimentConfigWithHeads,
  runExperiment as runLoaded,
  type LoadedConfig,
  type RunOutcome,
  type RunnerEvent,
} from '@gaze/runner';

/** One row of a run's metrics.json: a method's (or the classifier's) value of one metric. */
export type MetricRow = RunOutcome['metrics'][number];

/** The events a run reports while it works (plan, run-start, log, train, evaluate, run-end, summary). */
export type ExperimentEvent = RunnerEvent;

/** Options of {@link runExperiment}, as `gaze run` takes them. */
export interface RunExperimentOptions {
  /** Overrides as `gaze run --set` takes them: `'train.epochs=5'`, `'dataset.size=64'`. */
  sets?: string[];
  /** Continue the newest unfinished launch of this config from its checkpoints. */
  resume?: boolean;
  /** Called with every event the run reports (progress, log lines). */
  onEvent?: (event: ExperimentEvent) => void;
  /** Aborting stops at the next training step; the run is marked interrupted and can be resumed. */
  signal?: AbortSignal;
  /** The tfjs backend (beats GAZE_BACKEND and the config's experiment.backend), as `gaze run --backend`. */
  backend?: string;
  /** For a config object: relative dataset/model paths resolve against this (default the working directory). */
  baseDir?: string;
}

/** One run of an experiment: its folder, how it ended and the rows of its metrics.json. */
export interface ExperimentRun {
  runId: string;
  runDir: string;
  status: RunOutcome['status'];
  /** metrics.json of the run (a value JSON could not hold, NaN, reads as NaN); empty unless finished. */
  metrics: MetricRow[];
}

/** What {@link runExperiment} returns: where the runs went and what each measured. */
export interface ExperimentResult {
  /** `<experiment.output>/<experiment.name>`. */
  experimentDir: string;
  sweepId: string;
  /** Every run's folder, in plan order (one for a plain config). */
  runDirs: string[];
  runs: ExperimentRun[];
  /** The combined tables of a sweep or ablation. */
  summaryDir?: string;
}

/** The head types an experiment value names under `heads:` (and in overrides of it). */
function headTypes(value: unknown, inHeads = false, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) headTypes(v, inHeads, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (inHeads && k === 'type' && typeof v === 'string') out.push(v);
      headTypes(v, inHeads || k === 'heads', out);
    }
  }
  return out;
}

function readMetrics(runDir: string, fallback: MetricRow[]): MetricRow[] {
  const file = join(runDir, 'metrics.json');
  if (!existsSync(file)) return fallback;
  const rows = JSON.parse(readFileSync(file, 'utf8')) as (Omit<MetricRow, 'value'> & { value: number | null })[];
  return rows.map((r) => ({ ...r, value: r.value ?? Number.NaN }));
}

/**
 * Runs an experiment as `gaze run` does: a YAML file (with `extends:`) or a config object (the
 * same sections; validated by the runner with every problem reported at once). Writes the run
 * directories under `experiment.output` and returns them with each run's metrics rows.
 *
 * @example
 * ```ts
 * const { runDirs, runs } = await runExperiment('configs/quickstart.yaml', { sets: ['train.epochs=2'] });
 * const accuracy = runs[0].metrics.find((r) => r.method === 'classifier' && r.metric === 'accuracy');
 * const tiny = await runExperiment({
 *   experiment: { name: 'tiny', output: 'runs' },
 *   dataset: { type: 'shapes', size: 32, classes: 4, splits: { train: 512, val: 64, test: 64 } },
 *   backbone: { type: 'vgg-small' },
 *   train: { epochs: 2 },
 *   explainers: [{ type: 'gradcam' }],
 *   evaluation: [{ type: 'pointing-game' }],
 * });
 * console.log(tiny.runDirs[0]);
 * ```
 */
export async function runExperiment(config: string | Record<string, unknown>, options: RunExperimentOptions = {}): Promise<ExperimentResult> {
  let loaded: LoadedConfig;
  if (typeof config === 'string') {
    loaded = await loadExperimentConfigWithHeads(config, { sets: options.sets });
  } else if (config && typeof config === 'object' && !Array.isArray(config)) {
    await importHeads(headTypes(config));
    loaded = loadExperimentConfigValue(config, { sets: options.sets, baseDir: options.baseDir });
  } else {
    throw new GazeError('runExperiment takes a YAML file path or a config object', { where: 'runExperiment', hint: "e.g. runExperiment('configs/quickstart.yaml')" });
  }
  const outcome = await runLoaded(loaded, { resume: options.resume, signal: options.signal, onEvent: options.onEvent, backendFlag: options.backend });
  const runs = outcome.runs.map((r): ExperimentRun => ({ runId: r.runId, runDir: r.runDir, status: r.status, metrics: r.status === 'finished' ? readMetrics(r.runDir, r.metrics) : [] }));
  return {
    experimentDir: outcome.experimentDir,
    sweepId: outcome.sweepId,
    runDirs: runs.map((r) => r.runDir),
    runs,
    ...(outcome.summaryDir !== undefined ? { summaryDir: outcome.summaryDir } : {}),
  };
}
