import { GazeError, didYouMean, type tf } from '@gaze/engine';
import type { Batch, DatasetInfo } from '@gaze/data';
import type { Explainer } from '@gaze/explainers';
import type { Classifier } from '@gaze/models';
import type { z } from 'zod';

/** Which class an evaluator scores a map for: the classifier's top-1 prediction or the ground-truth label. */
export type TargetKind = 'predicted' | 'label';

/**
 * What an evaluator sees for one batch of one method. `maps` were computed by `explainer` for
 * `targets` (the kind the evaluator asked for); the evaluator may call the classifier (masked
 * forwards) and, where its protocol needs other maps (sanity checks), the explainer again. It must
 * leave the classifier's weights as it found them and dispose everything it creates.
 */
export interface EvaluationContext {
  classifier: Classifier;
  explainer: Explainer;
  batch: Batch;
  /** [B,H,W] in [0,1]. */
  maps: tf.Tensor3D;
  /** [B] int32: the class each map explains. */
  targets: tf.Tensor1D;
  info: DatasetInfo;
  /** The run seed, for evaluators that draw random numbers. */
  seed: number;
}

/** One value for one image: `metric` is the metrics.csv name (snake case), `label` the image's class. */
export interface ImageScore {
  id: string;
  label: number;
  metric: string;
  value: number;
}

/** A curve to chart (e.g. deletion: score against the fraction of pixels removed), averaged over images. */
export interface MetricCurve {
  metric: string;
  x: number[];
  y: number[];
  /** Axis titles for the report chart (e.g. 'fraction of pixels removed', 'class probability'). */
  xTitle?: string;
  yTitle?: string;
}

/** One summary value of a method: `value` over `n` images (or classes); `perImage` lists the values the mean is over, for the bootstrap. */
export interface MetricSummary {
  metric: string;
  /** The class a per-class row is about; class names are user text (folder names), so they never go into `metric`. */
  class?: string;
  value: number;
  n: number;
  /** The per-image values whose mean is `value` (bootstrap CIs resample them); omit when `value` is not such a mean. */
  perImage?: number[];
  /**
   * Set when `value` is the mean over classes of per-class means of `perImage`: each value's class
   * (`labels`, parallel to perImage), the class count, and whether classes without images count 0.
   * The CI then resamples within classes (`summaryCi`).
   */
  classes?: { labels: number[]; numClasses: number; emptyClasses: 'zero' | 'ignore' };
}

export interface Evaluator {
  /** The entry's `type`. */
  type: string;
  target: TargetKind;
  /** Scores one batch: one or more rows per image. */
  evaluate(context: EvaluationContext): Promise<ImageScore[]>;
  /** All rows of one method -> its summary values (e.g. the mean, per-class means) and curves for the report. */
  summarize(rows: ImageScore[], info: DatasetInfo): { summaries: MetricSummary[]; curves?: MetricCurve[] };
  dispose?(): void;
}

export interface EvaluatorContext {
  /** Config key path for errors, e.g. `evaluation.0`. */
  where: string;
  seed: number;
}

export interface EvaluatorFactory<C = unknown> {
  type: string;
  describe: string;
  /** The entry's own keys (without `type`/`name`), zod strictObject with defaults. */
  configSchema: z.ZodType<C>;
  create(config: C, context: EvaluatorContext): Evaluator;
}

const factories = new Map<string, EvaluatorFactory<never>>();

/** Adds an evaluator under its `type:`; each module registers itself when imported. */
export function registerEvaluator<C>(factory: EvaluatorFactory<C>): void {
  factories.set(factory.type, factory as EvaluatorFactory<never>);
}

export function evaluatorTypes(): string[] {
  return [...factories.keys()].sort();
}

export function evaluatorFactory(type: string): EvaluatorFactory<unknown> {
  const factory = factories.get(type);
  if (!factory) {
    const guess = didYouMean(type, evaluatorTypes());
    throw new GazeError(`unknown evaluator type '${type}'${guess ? ` (did you mean '${guess}'?)` : ''}`, { hint: `use one of: ${evaluatorTypes().join(', ')}` });
  }
  return factory as EvaluatorFactory<unknown>;
}

/** Builds an evaluator from a config entry `{type, name?, ...keys}` (keys validated by the factory's schema). */
export function createEvaluator(entry: { type: string; name?: string } & Record<string, unknown>, context: EvaluatorContext): Evaluator {
  const factory = evaluatorFactory(entry.type);
  const { type: _type, name: _name, ...keys } = entry;
  const parsed = factory.configSchema.safeParse(keys);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GazeError(issue.message, { where: [context.where, ...issue.path.map(String)].join('.') });
  }
  return factory.create(parsed.data, context);
}

/** Throws unless the maps are [B,H,W] at the batch's image size. */
export function checkMapShape(ctx: EvaluationContext, where: string): void {
  const [b, h, w] = ctx.batch.images.shape;
  const m = ctx.maps.shape;
  if (ctx.maps.rank !== 3 || m[0] !== b || m[1] !== h || m[2] !== w) {
    throw new GazeError(`maps must be [${b},${h},${w}] (one per image, at input resolution), got [${m.join(',')}]`, { where });
  }
}
