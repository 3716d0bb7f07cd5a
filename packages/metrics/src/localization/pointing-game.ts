/**
 * `pointing-game` (Zhang et al. 2016, "Top-down neural attention by excitation backprop"), as in
 * TorchRay `torchray/benchmark/pointing_game.py` (reference spec metrics.md section 1).
 *
 * Definition as implemented. Target: the ground-truth label (`target: 'label'`; TorchRay scores GT
 * classes, never predictions). For each image, the map's maximum point (u, v) = (column, row) is
 * the argmax over the [H,W] map in row-major order, ties going to the first (as `torch.argmax`
 * over the flattened map); the map is already at input resolution, so the tolerance is measured
 * in input pixels. The image is a hit when some pixel (c, r) of the target's ground-truth region
 * (`ground-truth.ts`: the object mask, else the union of the class's boxes; any instance counts)
 * has (r - v)^2 + (c - u)^2 < tol^2 (TorchRay's code; `inclusive: true` gives the docs' <=).
 *
 * Parameters (defaults, sources):
 * - `toleranceAt224` = 15 px at 224x224 input (TorchRay `PointingGame(tolerance=15)`, EBP paper),
 *   scaled to the input: tol = toleranceAt224 * min(H,W) / 224 (about 2.14 px at 32x32).
 * - `tolerance`: an absolute tolerance in input pixels, overriding the scaled one.
 * - `inclusive` = false: distance < tol (TorchRay code); true: <= tol (TorchRay docs/EBP paper).
 * - `groundTruth` = auto: mask when available for the target, else boxes (`mask` | `boxes` force one).
 * - `skipDifficult` = true: a pair whose class boxes are all VOC-`difficult` is not scored
 *   (TorchRay's VOC benchmark: such a pair counts neither as a hit nor as a miss).
 * - `difficultArea` = 0.25: the difficult subset (below).
 * - `emptyClasses` = zero: in the class mean a class with no scored pair counts 0 (TorchRay's
 *   `hits / clamp(hits + misses, min=1)`); `ignore` averages over the classes that have pairs.
 *
 * Pairs: one per image, (image, its target = its label; for VOC the primary object's class).
 * TorchRay scores every class present in a multi-label image; the Evaluator contract gives one
 * target (and one map) per image, so the other classes of a VOC image are not scored here.
 *
 * Rows per scored image: `pointing_game` (1 hit, 0 miss) and, for images in the difficult subset,
 * `pointing_game_difficult` (same value). Images without a region of the target class (no box of
 * it, an empty mask) or skipped as all-difficult give no row.
 *
 * Summaries:
 * - `pointing_game`: mean over classes of the per-class accuracy hits_c / (hits_c + misses_c),
 *   over all `info.numClasses` classes (TorchRay's reported number). n = the number of classes in
 *   the mean. perImage = the hits, with `classes` set, so its CI is the stratified bootstrap
 *   (`summaryCi` -> `bootstrapClassMeanCi`: resampling within classes keeps it inside [0, 1]).
 * - `pointing_game_images`: mean over images (hits / pairs), perImage = the hits.
 * - `pointing_game` with `class` set: each class's accuracy, for classes with at least one pair.
 * - `pointing_game_difficult`: the class mean over the difficult subset (empty classes as above),
 *   present only when some image is in it.
 *
 * Difficult subset (deviation): TorchRay reads it from EBP's files
 * (`pointing_game_ebp_voc07_difficult.txt`), which we do not have. We use EBP's definition (as
 * the reference spec recalls it, marked unverified there): the target region (its pixel count:
 * the mask's area when the mask is the ground truth, else the box union's) covers less than
 * `difficultArea` (1/4) of the image AND another object is present
 * (a box of any other label, including the unlabelled distractors, label -1, of shapes/cluttered).
 * It needs boxes; with masks only there is no difficult subset. Tolerance scaling and the
 * region-area test use the input (batched) resolution, not the original image's.
 */
import type { DatasetInfo } from '@gaze/data';
import { z } from 'zod';
import { checkMapShape, registerEvaluator, type EvaluationContext, type Evaluator, type ImageScore, type MetricSummary } from '../evaluator.js';
import { targetRegions, type TargetRegion } from './ground-truth.js';

/** TorchRay `PointingGame(tolerance=15)` at its 224 px input (EBP). */
export const POINTING_TOLERANCE_AT_224 = 15;
/** EBP's difficult subset: target objects smaller than 1/4 of the image, with a distractor present. */
export const DIFFICULT_AREA_FRACTION = 0.25;

export const PointingGameConfig = z.strictObject({
  toleranceAt224: z.number().nonnegative().default(POINTING_TOLERANCE_AT_224),
  tolerance: z.number().nonnegative().optional(),
  inclusive: z.boolean().default(false),
  groundTruth: z.enum(['auto', 'mask', 'boxes']).default('auto'),
  skipDifficult: z.boolean().default(true),
  difficultArea: z.number().positive().max(1).default(DIFFICULT_AREA_FRACTION),
  emptyClasses: z.enum(['zero', 'ignore']).default('zero'),
});
export type PointingGameConfig = z.infer<typeof PointingGameConfig>;

/** The tolerance in input pixels: `tolerance` if given, else toleranceAt224 * min(H,W) / 224. */
export function pointingTolerance(config: Pick<PointingGameConfig, 'tolerance' | 'toleranceAt224'>, size: readonly [number, number]): number {
  return config.tolerance ?? (config.toleranceAt224 * Math.min(size[0], size[1])) / 224;
}

/** Index of the first maximum of values[offset .. offset + n) (row-major, ties -> first, as torch.argmax). */
export function argmaxFirst(values: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[offset + i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** Whether a region pixel lies within `tol` of the point (col u, row v): distance < tol, or <= when inclusive. */
export function pointHits(inside: Uint8Array, size: readonly [number, number], u: number, v: number, tol: number, inclusive: boolean): boolean {
  const [h, w] = size;
  const reach = Math.ceil(tol);
  const tol2 = tol * tol;
  for (let r = Math.max(0, v - reach); r <= Math.min(h - 1, v + reach); r++) {
    for (let c = Math.max(0, u - reach); c <= Math.min(w - 1, u + reach); c++) {
      if (!inside[r * w + c]) continue;
      const d2 = (r - v) * (r - v) + (c - u) * (c - u);
      if (inclusive ? d2 <= tol2 : d2 < tol2) return true;
    }
  }
  return false;
}

export function isDifficultPair(region: TargetRegion, size: readonly [number, number], areaFraction: number): boolean {
  return region.otherObject === true && region.area < areaFraction * size[0] * size[1];
}

export function createPointingGame(config: PointingGameConfig, where = 'pointing-game'): Evaluator {
  return {
    type: 'pointing-game',
    target: 'label',
    async evaluate(ctx: EvaluationContext): Promise<ImageScore[]> {
      const [n, h, w] = ctx.maps.shape;
      checkMapShape(ctx, where);
      const size = [h, w] as const;
      const tol = pointingTolerance(config, size);
      const [regions, maps, labels] = await Promise.all([
        targetRegions(ctx.batch, ctx.targets, size, config.groundTruth, where),
        ctx.maps.data() as Promise<Float32Array>,
        ctx.batch.labels.data() as Promise<Int32Array>,
      ]);
      const rows: ImageScore[] = [];
      for (let b = 0; b < n; b++) {
        const region = regions[b];
        if (!region || (config.skipDifficult && region.allDifficult)) continue;
        const idx = argmaxFirst(maps, b * h * w, h * w);
        const hit = pointHits(region.inside, size, idx % w, Math.floor(idx / w), tol, config.inclusive) ? 1 : 0;
        const base = { id: ctx.batch.ids[b], label: labels[b] };
        rows.push({ ...base, metric: 'pointing_game', value: hit });
        if (isDifficultPair(region, size, config.difficultArea)) rows.push({ ...base, metric: 'pointing_game_difficult', value: hit });
      }
      return rows;
    },
    summarize(rows: ImageScore[], info: DatasetInfo) {
      const summaries: MetricSummary[] = [];
      const main = rows.filter((r) => r.metric === 'pointing_game');
      if (main.length > 0) {
        summaries.push(classMean('pointing_game', main, info, config.emptyClasses));
        const hits = main.map((r) => r.value);
        summaries.push({ metric: 'pointing_game_images', value: mean(hits), n: hits.length, perImage: hits });
        const byClass = groupByLabel(main);
        for (const [label, values] of [...byClass].sort((a, b) => a[0] - b[0])) {
          summaries.push({ metric: 'pointing_game', class: info.classNames[label] ?? String(label), value: mean(values), n: values.length, perImage: values });
        }
      }
      const difficult = rows.filter((r) => r.metric === 'pointing_game_difficult');
      if (difficult.length > 0) summaries.push(classMean('pointing_game_difficult', difficult, info, config.emptyClasses));
      return { summaries };
    },
  };
}

/** Mean over classes of per-class means (rows grouped by `label`, which is the target under target: 'label'). */
function classMean(metric: string, rows: ImageScore[], info: DatasetInfo, empty: 'zero' | 'ignore'): MetricSummary {
  const byClass = groupByLabel(rows);
  const k = empty === 'ignore' ? byClass.size : Math.max(info.numClasses, byClass.size);
  let total = 0;
  for (const values of byClass.values()) total += mean(values);
  return {
    metric,
    value: total / k,
    n: k,
    perImage: rows.map((r) => r.value),
    classes: { labels: rows.map((r) => r.label), numClasses: info.numClasses, emptyClasses: empty },
  };
}

function groupByLabel(rows: ImageScore[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const r of rows) {
    const list = groups.get(r.label) ?? [];
    list.push(r.value);
    groups.set(r.label, list);
  }
  return groups;
}

function mean(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

registerEvaluator({
  type: 'pointing-game',
  describe: 'pointing game (EBP / TorchRay): is the map maximum within 15 px (at 224) of the target object; mean accuracy over classes',
  configSchema: PointingGameConfig,
  create: (config, { where }) => createPointingGame(config, where),
});
