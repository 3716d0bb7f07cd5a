import type { GalleryInput } from './gallery.js';
import type { TopLevelSpec } from 'vega-lite';

/**
 * One tidy metric value: `method` is a component's `name:` (or its `type`), or `classifier` for the
 * classifier's own rows; `n` is how many images (or runs) the value is over. `ci_low`/`ci_high`
 * are set where there are seeds or a bootstrap.
 */
export interface MetricRow {
  method: string;
  metric: string;
  /** The class a per-class breakdown row is about (a class name is user text: it has its own column, never part of `metric`). */
  class?: string;
  value: number;
  n: number;
  ci_low?: number;
  ci_high?: number;
}

/** One training epoch as the run's history records it. */
export interface EpochRecord {
  epoch: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number;
  val_accuracy: number;
  lr: number;
  seconds: number;
}

/** Everything a single run's report shows. */
export interface RunReportInput {
  /** The experiment name. */
  experiment: string;
  runId: string;
  /** The resolved config as YAML text (shown verbatim, escaped). */
  configYaml: string;
  /** env.json's content (backend, versions, machine, git commit). */
  env: Record<string, unknown>;
  metrics: MetricRow[];
  /** Classifier training curves; empty when nothing was trained. */
  history: EpochRecord[];
  /** Free-form lines shown under the title (e.g. "resumed from epoch 3", "best epoch 7"). */
  notes?: string[];
  /** More charts to render into `charts/<name>.*` and show after the built-in ones (e.g. deletion curves). */
  charts?: ReportChart[];
  /** Explanation maps over the same images, one row per method: written as `gallery.png` and shown in the report. */
  gallery?: GalleryInput;
}

/** A chart a caller adds to a run report: rendered with `renderChart` to `charts/<name>.{vl.json,svg,png}`. */
export interface ReportChart {
  /** File stem under `charts/`: letters, digits, `.`, `_`, `-`. */
  name: string;
  /** Caption shown above the chart in report.md and report.html. */
  title: string;
  spec: TopLevelSpec;
}

/** One finished run of an experiment, as `gaze report runs/<experiment>` aggregates it. */
export interface RunSummary {
  runId: string;
  seed: number;
  /** The sweep point: key path -> value (empty for a run that is not part of a sweep). */
  params: Record<string, unknown>;
  metrics: MetricRow[];
  history: EpochRecord[];
}
