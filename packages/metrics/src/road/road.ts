/**
 * `road`: RemOve And Debias (Rong, Leemann et al., ICML 2022), after the original
 * tleemann/road_evaluation (`road/road.py`, `imputed_dataset.py`, `imputations.py`) with notes on
 * pytorch-grad-cam's port (`metrics/road.py`, `perturbation_confidence.py`); metrics.md section 4.
 *
 * Definition as implemented. Per image, with target class c (`target`, default the top-1
 * prediction):
 * 1. ranking: the map is min-max normalised (a constant map stays as is) plus a fixed seeded
 *    1e-4 * N(0,1) tie-breaker per pixel (the original's `random_v`; ours is drawn per image id
 *    from the run seed, stream `road-ties:<id>`), then sorted descending (stable by pixel index);
 * 2. for every removal fraction p in `percentages` and both orders, n = floor(p*H*W) pixels are
 *    removed (the original's `int(H*W*p)`): MoRF (most relevant first) removes the n highest-ranked
 *    pixels, LeRF (least relevant first) the n lowest-ranked ones. `percentages` is the fraction
 *    REMOVED for both orders, the paper's x axis. (The original's LeRF at `th_p` keeps the top
 *    `th_p`, i.e. removes 1 - th_p; pytorch-grad-cam's `percentile` is the % KEPT for both. On the
 *    symmetric default set {0.1, ..., 0.9} all three conventions visit the same points.)
 * 3. the removed pixels are filled by noisy linear imputation (see noisy-linear-imputer.ts: 8-
 *    neighbour weighted mean, weights 1/6 edge, 1/12 diagonal, `noise` = 0.01 * N(0,1) on imputed
 *    values only, seeded per image, order and fraction: stream `road-noise:<id>:<order>:<pct>`),
 *    in [0,1] pixel space before the classifier's normalisation, as the original (pytorch-grad-cam
 *    imputes the normalised tensor);
 * 4. score = softmax probability of c on the imputed image (`score: 'probability'`, what the
 *    original returns as `prob_acc`), or `score: 'accuracy'` = 1 if the imputed image's top-1 class
 *    is c, else 0 (the original's accuracy when `target: 'label'`). Raw scores, not differences to
 *    the clean image (pytorch-grad-cam's `return_diff`).
 * Per image: `road_morf/<pct>` / `road_lerf/<pct>` (pct = round(100 p); the slash marks a breakdown) and the aggregates
 * `road_morf_auc` / `road_lerf_auc` = `aggregate` over the percentages: 'mean' (default: the plain
 * mean over the percentages, pytorch-grad-cam's ROAD*Average) or 'trapezoid' (trapezoid rule over
 * the removal fraction, divided by its span, i.e. the mean height of the piecewise-linear curve).
 * Lower MoRF and higher LeRF are better (a faithful map destroys the class fast when its top
 * pixels go, slowly when its bottom pixels go).
 *
 * Parameters (defaults, sources):
 * - `percentages` = [0.1, 0.2, ..., 0.9]: pytorch-grad-cam's `percentiles=[10..90]`, the same set
 *   as the original's LeRF/MoRF when read as removed fractions (the original demo uses
 *   [0.1,0.2,0.3,0.4,0.5,0.7,0.9]; pass that to match its MoRF points).
 * - `noise` = 0.01 (NoisyLinearImputer); `tieBreak` = 1e-4 (`random_v`).
 * - `score` = 'probability'; `target` = 'predicted'; `aggregate` = 'mean'.
 * - `batchSize` = 128: imputed images per forward pass; the imputation runs on the CPU in
 *   TypeScript (Float64 conjugate gradients) while the forwards are batched over images, orders
 *   and percentages.
 * Summaries: the mean of every per-image metric with perImage; curves `road_morf` and `road_lerf`
 * (mean score against the fraction removed) for the report.
 */
import { Rng, tf } from '@gaze/engine';
import type { DatasetInfo } from '@gaze/data';
import { z } from 'zod';
import { checkMapShape, registerEvaluator, type EvaluationContext, type Evaluator, type ImageScore, type MetricCurve, type MetricSummary } from '../evaluator.js';
import { ROAD_NOISE, imputeNoisyLinear } from './noisy-linear-imputer.js';

/** Removal fractions: pytorch-grad-cam ROAD*Average `percentiles=[10, 20, ..., 90]`. */
export const ROAD_PERCENTAGES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
/** road_evaluation `ImputedDataset.random_v = 1e-4 * randn(H, W)`. */
export const ROAD_TIE_BREAK = 1e-4;
export const ROAD_BATCH_SIZE = 128;

export const RoadConfig = z
  .strictObject({
    percentages: z.array(z.number().gt(0).lt(1)).min(1).default(ROAD_PERCENTAGES),
    noise: z.number().min(0).default(ROAD_NOISE),
    tieBreak: z.number().min(0).default(ROAD_TIE_BREAK),
    score: z.enum(['probability', 'accuracy']).default('probability'),
    target: z.enum(['predicted', 'label']).default('predicted'),
    aggregate: z.enum(['mean', 'trapezoid']).default('mean'),
    batchSize: z.int().positive().default(ROAD_BATCH_SIZE),
  })
  .refine((c) => new Set(c.percentages.map(roadPercent)).size === c.percentages.length, {
    message: 'percentages must differ in whole percents (they name the metrics road_morf_<percent>)',
    path: ['percentages'],
  })
  .refine((c) => c.percentages.every((p, i) => i === 0 || p > c.percentages[i - 1]), { message: 'percentages must be increasing', path: ['percentages'] });
export type RoadConfig = z.infer<typeof RoadConfig>;

export type RoadOrder = 'morf' | 'lerf';
const ORDERS: readonly RoadOrder[] = ['morf', 'lerf'];

/** The percent a removal fraction names its metrics by: 0.3 -> 30. */
export function roadPercent(p: number): number {
  return Math.round(p * 100);
}

/** How many of n pixels a removal fraction removes: floor(p * n) (guarded against float noise). */
export function removedPixelCount(p: number, n: number): number {
  return Math.min(n, Math.max(0, Math.floor(p * n + 1e-9)));
}

/**
 * The removal ranking of one map: rank[pixel] = its position in descending order of
 * (min-max normalised map + tieBreak * N(0,1) from rng), ties by pixel index.
 */
export function roadRanks(map: ArrayLike<number>, tieBreak: number, rng: Rng | undefined): Int32Array {
  const n = map.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, map[i]);
    hi = Math.max(hi, map[i]);
  }
  const scale = hi > lo ? 1 / (hi - lo) : 0;
  const value = new Float64Array(n);
  for (let i = 0; i < n; i++) value[i] = (hi > lo ? (map[i] - lo) * scale : map[i]) + (tieBreak > 0 ? tieBreak * rng!.normal() : 0);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => value[b] - value[a] || a - b);
  const rank = new Int32Array(n);
  order.forEach((pixel, r) => (rank[pixel] = r));
  return rank;
}

/** Removed-pixel flags for one order and count: MoRF removes ranks [0, count), LeRF ranks [n - count, n). */
export function roadRemoved(rank: Int32Array, order: RoadOrder, count: number): Uint8Array {
  const n = rank.length;
  const removed = new Uint8Array(n);
  for (let p = 0; p < n; p++) removed[p] = order === 'morf' ? (rank[p] < count ? 1 : 0) : rank[p] >= n - count ? 1 : 0;
  return removed;
}

/** Aggregates a curve y over increasing removal fractions x: their mean, or the trapezoid area divided by the span. */
export function roadAggregate(x: readonly number[], y: readonly number[], how: 'mean' | 'trapezoid'): number {
  if (how === 'mean' || x.length === 1) return y.reduce((s, v) => s + v, 0) / y.length;
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area / (x[x.length - 1] - x[0]);
}

export function createRoad(config: RoadConfig, where = 'road'): Evaluator {
  const percentages = config.percentages;
  const metricOf = (order: RoadOrder, p: number) => `road_${order}/${roadPercent(p)}`;
  return {
    type: 'road',
    target: config.target,
    async evaluate(ctx: EvaluationContext): Promise<ImageScore[]> {
      const images = ctx.batch.images;
      const [n, h, w, c] = images.shape;
      checkMapShape(ctx, where);
      const hw = h * w;
      const [pixels, maps, labels, targets] = await Promise.all([
        images.data() as Promise<Float32Array>,
        ctx.maps.data() as Promise<Float32Array>,
        ctx.batch.labels.data() as Promise<Int32Array>,
        ctx.targets.data() as Promise<Int32Array>,
      ]);
      const ranks = Array.from({ length: n }, (_, b) =>
        roadRanks(maps.subarray(b * hw, (b + 1) * hw), config.tieBreak, config.tieBreak > 0 ? new Rng(ctx.seed, `road-ties:${ctx.batch.ids[b]}`) : undefined),
      );
      // Job j = (image b, order o, percentage k) at j = (b * 2 + o) * P + k.
      const perImage = ORDERS.length * percentages.length;
      const total = n * perImage;
      const scores = new Float64Array(total);
      const buffer = new Float32Array(Math.min(config.batchSize, total) * hw * c);
      for (let j0 = 0; j0 < total; j0 += config.batchSize) {
        const size = Math.min(config.batchSize, total - j0);
        const jobTargets = new Int32Array(size);
        for (let q = 0; q < size; q++) {
          const j = j0 + q;
          const b = Math.floor(j / perImage);
          const order = ORDERS[Math.floor((j % perImage) / percentages.length)];
          const p = percentages[j % percentages.length];
          const removed = roadRemoved(ranks[b], order, removedPixelCount(p, hw));
          const rng = config.noise > 0 ? new Rng(ctx.seed, `road-noise:${ctx.batch.ids[b]}:${order}:${roadPercent(p)}`) : undefined;
          imputeNoisyLinear(pixels.subarray(b * hw * c, (b + 1) * hw * c), removed, h, w, c, {
            noise: config.noise,
            rng,
            out: buffer.subarray(q * hw * c, (q + 1) * hw * c),
          });
          jobTargets[q] = targets[b];
        }
        const s = tf.tidy(() => {
          const x = tf.tensor4d(buffer.subarray(0, size * hw * c), [size, h, w, c]);
          const logits = ctx.classifier.logits(x);
          const t = tf.tensor1d(jobTargets, 'int32');
          if (config.score === 'accuracy') return tf.cast(tf.equal(tf.argMax(logits, 1), t), 'float32');
          const prob = tf.softmax(logits);
          return tf.sum(tf.mul(prob, tf.oneHot(t, prob.shape[1])), 1);
        });
        const v = await s.data();
        s.dispose();
        scores.set(v, j0);
      }
      const rows: ImageScore[] = [];
      for (let b = 0; b < n; b++) {
        const base = { id: ctx.batch.ids[b], label: labels[b] };
        ORDERS.forEach((order, o) => {
          const y = Array.from(scores.subarray((b * 2 + o) * percentages.length, (b * 2 + o + 1) * percentages.length));
          rows.push({ ...base, metric: `road_${order}_auc`, value: roadAggregate(percentages, y, config.aggregate) });
          percentages.forEach((p, k) => rows.push({ ...base, metric: metricOf(order, p), value: y[k] }));
        });
      }
      return rows;
    },
    summarize(rows: ImageScore[], _info: DatasetInfo) {
      const byMetric = new Map<string, number[]>();
      for (const r of rows) {
        const list = byMetric.get(r.metric);
        if (list) list.push(r.value);
        else byMetric.set(r.metric, [r.value]);
      }
      const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
      const summaries: MetricSummary[] = [];
      const curves: MetricCurve[] = [];
      for (const order of ORDERS) {
        for (const metric of [`road_${order}_auc`, ...percentages.map((p) => metricOf(order, p))]) {
          const values = byMetric.get(metric);
          if (values?.length) summaries.push({ metric, value: mean(values), n: values.length, perImage: values });
        }
        const points = percentages.filter((p) => byMetric.get(metricOf(order, p))?.length);
        if (points.length > 0) {
          curves.push({
            metric: `road_${order}`,
            x: points,
            y: points.map((p) => mean(byMetric.get(metricOf(order, p))!)),
            xTitle: `fraction of pixels removed (${order === 'morf' ? 'most' : 'least'} relevant first)`,
            yTitle: config.score === 'accuracy' ? 'accuracy' : 'class probability',
          });
        }
      }
      return { summaries, curves };
    },
  };
}

registerEvaluator({
  type: 'road',
  describe: 'ROAD (remove and debias): noisy linear imputation of the most / least relevant pixels, softmax of the target class; mean over removal fractions',
  configSchema: RoadConfig,
  create: (config, { where }) => createRoad(config, where),
});
