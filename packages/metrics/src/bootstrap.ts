/**
 * Bootstrap confidence intervals for the mean metrics (Efron & Tibshirani 1993, ch. 13: the
 * percentile interval).
 *
 * - `bootstrapCi(values)`: resample the n values with replacement `resamples` times (default 1000),
 *   take each resample's mean, and return the (1 - level)/2 and (1 + level)/2 quantiles of those
 *   means (linear interpolation between order statistics, numpy's default `percentile`). The draws
 *   come from the engine's `Rng(seed, 'bootstrap')`, so the same values and seed give the same
 *   interval on every machine. No values -> {NaN, NaN}; one value or constant values -> [v, v].
 * - `bootstrapClassMeanCi(values, classes)`: the stratified version for a mean over classes of
 *   per-class means (the pointing game's headline number): each resample redraws n_c values
 *   within every class c, so class sizes stay fixed, and takes the mean over classes of the
 *   resampled class means (a class listed in `numClasses` without values counts 0, as TorchRay
 *   does, unless `emptyClasses: 'ignore'`).
 *
 * `summaryCi(summary)` picks between them for a `MetricSummary`: the stratified one when the
 * summary says its value is a mean over classes (`classes`), else the plain one over `perImage`.
 * (A plain bootstrap of class-reweighted values, `classMeanWeights`, would also vary the class
 * sizes and can leave the metric's range: a pointing game interval reaching above 1.)
 */
import { Rng } from '@gaze/engine';
import type { MetricSummary } from './evaluator.js';

export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  resamples?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
  /** Seeds the resampling (default 0). */
  seed?: number;
}

export interface ConfidenceInterval {
  low: number;
  high: number;
}

/** Default number of bootstrap resamples (Efron & Tibshirani 1993 recommend >= 1000 for percentile intervals). */
export const BOOTSTRAP_RESAMPLES = 1000;
export const BOOTSTRAP_LEVEL = 0.95;

/** Percentile-bootstrap CI of the mean of `values`. */
export function bootstrapCi(values: readonly number[], options: BootstrapOptions = {}): ConfidenceInterval {
  const { resamples, level, rng } = settings(options);
  const n = values.length;
  if (n === 0) return { low: NaN, high: NaN };
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[rng.int(n)];
    means[r] = sum / n;
  }
  return percentileInterval(means, level);
}

/**
 * Stratified percentile-bootstrap CI of a mean over classes of per-class means: values[i] belongs
 * to class classes[i]; classes 0..numClasses-1 without values count 0 (`emptyClasses: 'zero'`,
 * TorchRay's pointing game) or are left out (`'ignore'`).
 */
export function bootstrapClassMeanCi(
  values: readonly number[],
  classes: readonly number[],
  options: BootstrapOptions & { numClasses?: number; emptyClasses?: 'zero' | 'ignore' } = {},
): ConfidenceInterval {
  if (values.length !== classes.length) throw new Error(`bootstrapClassMeanCi: ${values.length} values but ${classes.length} classes`);
  const { resamples, level, rng } = settings(options);
  const groups = new Map<number, number[]>();
  values.forEach((v, i) => {
    const list = groups.get(classes[i]) ?? [];
    list.push(v);
    groups.set(classes[i], list);
  });
  const divisor = options.emptyClasses === 'ignore' ? groups.size : Math.max(options.numClasses ?? 0, groups.size);
  if (divisor === 0) return { low: NaN, high: NaN };
  const lists = [...groups.values()];
  const stats = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let total = 0;
    for (const list of lists) {
      let sum = 0;
      for (let i = 0; i < list.length; i++) sum += list[rng.int(list.length)];
      total += sum / list.length;
    }
    stats[r] = total / divisor;
  }
  return percentileInterval(stats, level);
}

/**
 * Per-value weights w_i = n / (K * n_c(i)) so that mean_i(w_i * v_i) = (1/K) sum_c mean_{i in c} v_i:
 * a class mean written as a plain mean, for consumers that bootstrap plain means.
 */
export function classMeanWeights(classes: readonly number[], divisor: number): number[] {
  const counts = new Map<number, number>();
  for (const c of classes) counts.set(c, (counts.get(c) ?? 0) + 1);
  return classes.map((c) => classes.length / (divisor * counts.get(c)!));
}

/** q-quantile of sorted data with linear interpolation between order statistics (numpy `linear`). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function settings(options: BootstrapOptions) {
  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const level = options.level ?? BOOTSTRAP_LEVEL;
  if (!Number.isInteger(resamples) || resamples < 1) throw new Error(`bootstrap: resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new Error(`bootstrap: level must be in (0, 1), got ${level}`);
  return { resamples, level, rng: new Rng(options.seed ?? 0, 'bootstrap') };
}

function percentileInterval(stats: Float64Array, level: number): ConfidenceInterval {
  stats.sort();
  return { low: quantileSorted(stats, (1 - level) / 2), high: quantileSorted(stats, (1 + level) / 2) };
}

/**
 * The CI of a summary's value from its per-image values: stratified by class when the value is a
 * mean of class means (`summary.classes`), plain otherwise; undefined when there are fewer than
 * two values or none were given.
 */
export function summaryCi(summary: MetricSummary, options: BootstrapOptions = {}): ConfidenceInterval | undefined {
  const values = summary.perImage;
  if (!values || values.length < 2) return undefined;
  if (summary.classes) {
    const { labels, numClasses, emptyClasses } = summary.classes;
    return bootstrapClassMeanCi(values, labels, { ...options, numClasses, emptyClasses });
  }
  return bootstrapCi(values, options);
}
