import type { Batch, Box, DatasetInfo } from '@gaze/data';
import { GazeError, isGazeError, tf } from '@gaze/engine';
import { finishMaps, type Explainer } from '@gaze/explainers';
import { evaluatorFactory, createEvaluator, summaryCi, type Evaluator, type ImageScore, type MetricCurve } from '@gaze/metrics';
import { z } from 'zod';
import { ensureBackend } from './backend.js';
import { buildExplainer } from './explain.js';
import { openImageInput, type ImageInput, type ImageOptions } from './images.js';
import { classifierOf, type GazeModel } from './model.js';

/**
 * Maps to score: an {@link ExplainResult} (its `targets` are checked against the classes the metric
 * scores), `{ data, shape: [N,H,W] }`, or a `tf.Tensor3D`. Raw or normalized: they are min-max
 * scaled per map first, as a run does before its metrics see them.
 */
export type MapsInput = { data: Float32Array | ArrayLike<number>; shape: readonly number[]; targets?: readonly number[] } | tf.Tensor3D;

/** A box in model-input pixel coordinates (pixel edges: pixel (c, r) is {x0: c, y0: r, x1: c+1, y1: r+1}), with its object's class (-1: no class) and VOC's `difficult` flag. */
export type BoxInput = Box;

/** Options of {@link evaluate}; any other key is an option of the metric (checked against it). */
export interface EvaluateOptions extends ImageOptions {
  /** A metric by name: one of `evaluatorTypes()` (deletion, insertion, pointing-game, ad-ic, road, sanity-randomization, ...). */
  metric: string;
  /** Each image's class: needed by metrics that score the label (pointing games, `target: 'label'`). */
  labels?: readonly number[];
  /** Per image, its objects' boxes in input pixels: ground truth for the pointing games. */
  boxes?: readonly (readonly BoxInput[])[];
  /** Per image, the mask of its labelled object [N,H,W] (> 0.5 inside): ground truth for the pointing games. */
  masks?: { data: ArrayLike<number>; shape: readonly number[] } | tf.Tensor3D;
  /** The method that made the maps, for metrics that explain again (sanity-randomization). */
  method?: string;
  /** That method's options (layer, n, ...). */
  methodOptions?: Record<string, unknown>;
  /** Class names for per-class summary rows (default '0', '1', ...). */
  classNames?: readonly string[];
  /** Images per batch of maps (default 32, as a run's evaluationSet.batchSize). */
  batch?: number;
  /** Seed of metrics that draw random numbers, and of the method when it runs again (default 0). */
  seed?: number;
  /** Bootstrap resamples for 95% confidence intervals of the summary means (default 0: none). */
  bootstrap?: number;
  /** Metric options (deletion: steps, substrate, ...), for names evaluate() itself uses; merged over the top-level ones. */
  options?: Record<string, unknown>;
  [metricOption: string]: unknown;
}

/** One value for one image. `metric` is the metrics.csv name (deletion_auc, pointing_game, ...). */
export interface ImageValue {
  /** The image's id, as in {@link ExplainResult.ids}. */
  id: string;
  metric: string;
  value: number;
  /** The image's label, when labels were given. */
  label?: number;
}

/** A summary value over the images: a mean (with its CI when bootstrapped), a per-class mean, or a pass flag. */
export interface SummaryValue {
  metric: string;
  /** Set on per-class rows. */
  class?: string;
  value: number;
  /** Images (or classes) the value is over. */
  n: number;
  ciLow?: number;
  ciHigh?: number;
}

/** What {@link evaluate} returns: every per-image value, the metric's summary rows and its curves (mean over images). */
export interface EvaluateResult {
  metric: string;
  perImage: ImageValue[];
  summary: SummaryValue[];
  curves: MetricCurve[];
}

/** evaluate()'s own keys; everything else goes to the metric. */
const EVALUATE_KEYS = ['metric', 'labels', 'boxes', 'masks', 'method', 'methodOptions', 'classNames', 'batch', 'seed', 'bootstrap', 'resize', 'options'] as const;

/** Stands in for the method when none was given: a metric that explains again says what to pass. */
function missingMethod(metric: string): Explainer {
  return {
    name: 'maps',
    explain: async () => {
      throw new GazeError(`${metric} explains the images again (on a changed model): pass the method that made the maps`, {
        where: 'evaluate() method',
        hint: "e.g. evaluate(model, images, maps, { metric: 'sanity-randomization', method: 'gradcam', methodOptions: { layer: 'layer4' } })",
      });
    },
  };
}

function checkInteger(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new GazeError(`${name} must be an integer >= ${min}, got ${String(value)}`, { where: name });
  return value;
}

/** The metric's evaluator, with its options checked key by key (the schemas are strict objects). */
function buildEvaluator(metric: unknown, metricOptions: Record<string, unknown>, seed: number): { evaluator: Evaluator; keys: string[] } {
  if (typeof metric !== 'string' || metric === '') throw new GazeError('evaluate() needs a metric', { where: 'evaluate() metric', hint: "e.g. { metric: 'deletion' }; evaluatorTypes() lists them" });
  let schema: z.ZodType;
  try {
    schema = evaluatorFactory(metric).configSchema;
  } catch (error) {
    if (!isGazeError(error)) throw error;
    throw new GazeError(error.message, { where: 'evaluate() metric', hint: error.hint, cause: error });
  }
  const keys = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  for (const key of Object.keys(metricOptions)) {
    if (!keys.includes(key)) {
      throw new GazeError(`${metric} has no option '${key}'`, {
        where: 'evaluate() options',
        hint: `${keys.length ? `its options: ${keys.join(', ')}` : `${metric} takes no options`}; evaluate() itself takes ${EVALUATE_KEYS.join(', ')}`,
      });
    }
  }
  return { evaluator: createEvaluator({ type: metric, ...metricOptions }, { where: `evaluate() ${metric}`, seed }), keys };
}

function plain(input: { data: ArrayLike<number>; shape: readonly number[] } | tf.Tensor, name: string): { data: Float32Array; shape: number[] } {
  if (input instanceof tf.Tensor) return { data: Float32Array.from(input.dataSync() as Float32Array), shape: input.shape };
  if (!input || typeof input !== 'object' || !('data' in input) || !('shape' in input)) throw new GazeError(`${name} must be { data, shape } or a tf.Tensor`, { where: name });
  const shape = Array.from(input.shape);
  const size = shape.reduce((a, b) => a * b, 1);
  if (input.data.length !== size) throw new GazeError(`${name}.data holds ${input.data.length} values; shape [${shape.join(',')}] needs ${size}`, { where: `${name}.data` });
  return { data: input.data instanceof Float32Array ? input.data : Float32Array.from(input.data), shape };
}

function checkPerImage(list: readonly unknown[] | undefined, name: string, n: number): void {
  if (list !== undefined && (!Array.isArray(list) || list.length !== n)) {
    throw new GazeError(`${name} must list one entry per image (${n}), got ${Array.isArray(list) ? list.length : typeof list}`, { where: name });
  }
}

/**
 * Scores maps with one metric, exactly as a run's evaluation does: per batch, the maps are min-max
 * normalized (the explainers' `finishMaps`), the classes the metric asks for are computed (the
 * prediction, or `labels` for label metrics), and the metric's evaluator scores them; the summary
 * is its own (means, per-class means, pass flags). Metrics that need ground truth name the option
 * (`labels`, `boxes`/`masks`); sanity checks need `method`. Every tensor it makes is freed.
 *
 * @example
 * ```ts
 * const maps = await explain(model, images, { method: 'gradcam' });
 * const { perImage, summary } = await evaluate(model, images, maps, { metric: 'deletion', steps: 50 });
 * console.log(summary[0]); // { metric: 'deletion_auc', value: 0.21, n: 2 }
 * await evaluate(model, images, maps, { metric: 'pointing-game', labels: [3, 5], boxes });
 * ```
 */
export async function evaluate(model: GazeModel, images: ImageInput, maps: MapsInput, options: EvaluateOptions): Promise<EvaluateResult> {
  const classifier = classifierOf(model, 'evaluate()');
  if (!options || typeof options !== 'object') throw new GazeError('evaluate() needs options with a metric', { where: 'evaluate()', hint: "e.g. { metric: 'deletion' }" });
  await ensureBackend();
  const { metric, labels, boxes, masks, method, methodOptions, classNames, batch = 32, seed = 0, bootstrap = 0, resize, options: nested, ...topLevel } = options;
  const metricOptions: Record<string, unknown> = { ...topLevel, ...(nested ?? {}) };
  for (const [k, v] of Object.entries(metricOptions)) if (v === undefined) delete metricOptions[k];
  checkInteger(batch, 'batch', 1);
  checkInteger(seed, 'seed', 0);
  checkInteger(bootstrap, 'bootstrap', 0);
  const [h, w] = classifier.inputShape;
  const m = plain(maps as MapsInput, 'maps');
  if (m.shape.length !== 3 || m.shape[1] !== h || m.shape[2] !== w || m.shape[0] < 1) {
    throw new GazeError(`maps are [${m.shape.join(',')}]; this model's maps are [N,${h},${w}] (one per image, at input resolution)`, { where: 'maps', hint: 'pass what explain() returned for these images' });
  }
  const n = m.shape[0];
  const mapTargets = !(maps instanceof tf.Tensor) ? maps.targets : undefined;
  checkPerImage(labels, 'labels', n);
  checkPerImage(boxes, 'boxes', n);
  checkPerImage(mapTargets, 'maps.targets', n);
  const bad = labels?.findIndex((l) => !Number.isInteger(l) || l < 0 || l >= classifier.numClasses) ?? -1;
  if (bad >= 0) throw new GazeError(`labels[${bad}] = ${String(labels![bad])} is not a class of this model (0 to ${classifier.numClasses - 1})`, { where: `labels.${bad}` });
  const maskValues = masks === undefined ? undefined : plain(masks, 'masks');
  if (maskValues && (maskValues.shape.length !== 3 || maskValues.shape[0] !== n || maskValues.shape[1] !== h || maskValues.shape[2] !== w)) {
    throw new GazeError(`masks are [${maskValues.shape.join(',')}]; they must be [${n},${h},${w}] (one per image, at input resolution)`, { where: 'masks' });
  }

  const { evaluator, keys } = buildEvaluator(metric, metricOptions, seed);
  let explainer: Explainer | undefined;
  try {
    if (evaluator.target === 'label' && labels === undefined) {
      throw new GazeError(`${metric} scores each map for the image's label: pass labels (one class index per image)`, { where: 'evaluate() labels', hint: "e.g. { metric, labels: [3, 0, 7] }" });
    }
    // The localization metrics take their ground truth by a groundTruth option.
    if (keys.includes('groundTruth') && boxes === undefined && maskValues === undefined) {
      throw new GazeError(`${metric} needs ground truth: pass boxes (per image, in input pixels) or masks ([N,H,W], 1 on the labelled object)`, {
        where: 'evaluate() boxes / masks',
        hint: "e.g. { metric, labels: [2], boxes: [[{ x0: 4, y0: 4, x1: 20, y1: 18, label: 2 }]] }",
      });
    }
    explainer = method !== undefined ? buildExplainer(classifier, method, methodOptions ?? {}, seed, 'evaluate()') : missingMethod(metric);
    const source = await openImageInput(images, model, { resize });
    if (source.count !== n) throw new GazeError(`${source.count} images but ${n} maps`, { where: 'maps', hint: 'pass one map per image, in the same order' });
    const info: DatasetInfo = {
      type: 'images',
      classNames: classNames ? [...classNames] : Array.from({ length: classifier.numClasses }, (_, i) => String(i)),
      numClasses: classifier.numClasses,
      imageShape: classifier.inputShape,
      has: { masks: maskValues !== undefined, boxes: boxes !== undefined, attributes: false, multiLabel: false },
      sizes: { train: 0, val: 0, test: n },
      source: 'evaluate()',
    };
    const rows: ImageScore[] = [];
    const hw = h * w;
    let done = 0;
    for (let start = 0; start < source.count; start += batch) {
      const loaded = await source.batch(start, Math.min(source.count, start + batch));
      const held: tf.Tensor[] = [loaded.x];
      try {
        const b = loaded.ids.length;
        if (b === 0) continue;
        // A folder's unreadable files are skipped, as explain() skips them: maps go in load order.
        const first = done;
        done += b;
        if (done > n) throw new GazeError(`more readable images than the ${n} maps`, { where: 'maps' });
        const scoped: Batch = {
          images: loaded.x,
          labels: tf.tensor1d(loaded.indices.map((i) => labels?.[i] ?? -1), 'int32'),
          ids: loaded.ids,
          ...(maskValues ? { masks: tf.tensor3d(maskValues.data.subarray(first * hw, done * hw), [b, h, w]) } : {}),
          ...(boxes ? { boxes: loaded.indices.map((i) => boxes[i].map((box) => ({ ...box })) as Box[]) } : {}),
        };
        held.push(scoped.labels);
        if (scoped.masks) held.push(scoped.masks);
        const targets =
          evaluator.target === 'label' ? scoped.labels.clone() : tf.tidy(() => tf.argMax(classifier.logits(scoped.images), 1).toInt() as tf.Tensor1D);
        held.push(targets);
        if (mapTargets) {
          const t = (await targets.data()) as Int32Array;
          const i = Array.from(t).findIndex((v, j) => v !== mapTargets[first + j]);
          if (i >= 0) {
            const what = evaluator.target === 'label' ? 'its label' : 'its predicted class';
            throw new GazeError(`map ${first + i} (${loaded.ids[i]}) explains class ${mapTargets[first + i]}, but ${metric} scores ${what}, ${t[i]}`, {
              where: 'maps.targets',
              hint: evaluator.target === 'label' ? 'explain with target: labels' : "explain with target: 'predicted' (the default), or give the metric target: 'label' where it has that option",
            });
          }
        }
        const raw = tf.tensor3d(m.data.subarray(first * hw, done * hw), [b, h, w]);
        held.push(raw);
        const normalized = finishMaps(raw, [h, w]);
        held.push(normalized);
        rows.push(...(await evaluator.evaluate({ classifier, explainer, batch: scoped, maps: normalized, targets, info, seed })));
      } finally {
        tf.dispose(held);
      }
    }
    if (done !== n) throw new GazeError(`${done} readable images but ${n} maps`, { where: 'maps', hint: 'pass one map per image, in the same order' });
    const { summaries, curves } = evaluator.summarize(rows, info);
    const summary = summaries.map((s): SummaryValue => {
      const row: SummaryValue = { metric: s.metric, ...(s.class !== undefined ? { class: s.class } : {}), value: s.value, n: s.n };
      const ci = bootstrap > 0 ? summaryCi(s, { resamples: bootstrap, level: 0.95, seed }) : undefined;
      if (ci) {
        row.ciLow = ci.low;
        row.ciHigh = ci.high;
      }
      return row;
    });
    const perImage = rows.map((r): ImageValue => ({ id: r.id, metric: r.metric, value: r.value, ...(labels !== undefined ? { label: r.label } : {}) }));
    return { metric: metric as string, perImage, summary, curves: curves ?? [] };
  } finally {
    explainer?.dispose?.();
    evaluator.dispose?.();
  }
}
