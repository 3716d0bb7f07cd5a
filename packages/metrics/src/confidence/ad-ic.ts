/**
 * `ad-ic`: Average Drop and Increase in Confidence (Chattopadhyay et al., Grad-CAM++, WACV 2018)
 * in the TAME / L-CAM "100% / 50% / 15%" protocol (bmezaris/TAME `scripts/eval_script.py`,
 * `scripts/utilities/metrics.py`; reference spec metrics.md section 3). One evaluator gives both,
 * since they share every forward pass; `average-drop` and `increase-in-confidence` report one each.
 *
 * Definition as implemented. Target c = the classifier's top-1 prediction (`target: 'predicted'`).
 * Y = softmax probability of c on the image. For each kept fraction k in `keep`:
 * 1. the map keeps exactly ceil(k*H*W) pixels with their continuous values (no binarisation) and
 *    every other pixel becomes 0: the kept ones are the largest values; among pixels tied at the
 *    cut value the LAST ones in row-major order are kept (TAME's `drop_Npercent` zeroes the first
 *    tied pixels `torch.nonzero` lists until the count is exact), so the result is deterministic;
 * 2. masked image = image * map (per pixel, every channel) in [0,1] pixel space, so removed pixels
 *    are black (as TAME, which multiplies before its normalisation; pytorch-grad-cam's
 *    CamMultImage multiplies the normalised tensor instead, which gives mean-grey pixels);
 * 3. O = softmax probability of c on the masked image.
 * Per image: ad = 100 * max(0, Y - O) / Y (0 if Y underflows to 0) and ic = 100 * 1[O > Y], so
 * AD% = mean(ad) and IC% = mean(ic) over images, lower AD and higher IC being better.
 *
 * Parameters (defaults, sources):
 * - `keep` = [1, 0.5, 0.15]: fractions of pixels kept (TAME `for percent in [0, 0.5, 0.85]`
 *   dropped); metric names `ad_<round(100k)>`, `ic_<round(100k)>`: ad_100, ic_100, ad_50, ic_50,
 *   ad_15, ic_15. ceil(k*H*W) is taken with a 1e-9 guard so 0.15 * 100 keeps 15 pixels, not 16
 *   (TAME's float `ceil((1 - 0.85) * HW)` can overshoot by one there).
 * - `batchSize` = 128: images per forward pass. The originals and every keep level of a batch go
 *   through the classifier together ((1 + L) * B images: one pass for B = 32 and 3 levels).
 *
 * The map is used as given ([0,1] by contract; TAME min-max normalises and upsamples its map
 * first, which every explainer here already does). Rows: per image and keep level. Summaries:
 * the mean of each metric with perImage for the bootstrap.
 */
import { tf } from '@gaze/engine';
import type { DatasetInfo } from '@gaze/data';
import { z } from 'zod';
import { checkMapShape, registerEvaluator, type EvaluationContext, type Evaluator, type ImageScore, type MetricSummary } from '../evaluator.js';

/** TAME / L-CAM: AD(100%), AD(50%), AD(15%) = fractions of pixels kept. */
export const AD_IC_KEEP = [1, 0.5, 0.15];
export const AD_IC_BATCH_SIZE = 128;

export const AdIcConfig = z
  .strictObject({
    keep: z.array(z.number().gt(0).max(1)).min(1).default(AD_IC_KEEP),
    batchSize: z.int().positive().default(AD_IC_BATCH_SIZE),
  })
  .refine((c) => new Set(c.keep.map(keepPercent)).size === c.keep.length, { message: 'keep fractions must differ in whole percents (they name the metrics ad_<percent>)', path: ['keep'] });
export type AdIcConfig = z.infer<typeof AdIcConfig>;

/** The percent a kept fraction names its metrics by: 0.15 -> 15. */
export function keepPercent(keep: number): number {
  return Math.round(keep * 100);
}

/** How many of n pixels a kept fraction keeps: ceil(keep * n), guarded against float noise. */
export function keptPixelCount(keep: number, n: number): number {
  return Math.min(n, Math.max(0, Math.ceil(keep * n - 1e-9)));
}

/**
 * Writes into out[outOffset ..] the map values[offset .. offset + n) with all but its
 * ceil(keep * n) largest values zeroed; among values tied at the cut the last ones (row-major) stay.
 */
export function keepTopPixels(values: ArrayLike<number>, offset: number, n: number, keep: number, out: Float32Array, outOffset: number): void {
  const count = keptPixelCount(keep, n);
  if (count >= n) {
    for (let p = 0; p < n; p++) out[outOffset + p] = values[offset + p];
    return;
  }
  if (count === 0) {
    out.fill(0, outOffset, outOffset + n);
    return;
  }
  // Compare in float32, the maps' precision, whatever array the values come in.
  const own = Float32Array.from({ length: n }, (_, p) => values[offset + p]);
  const cut = own.slice().sort()[n - count]; // the smallest kept value
  let above = 0;
  for (let p = 0; p < n; p++) if (own[p] > cut) above++;
  let tiesLeft = count - above;
  for (let p = n - 1; p >= 0; p--) {
    const v = own[p];
    let kept = v > cut;
    if (!kept && v === cut && tiesLeft > 0) {
      kept = true;
      tiesLeft--;
    }
    out[outOffset + p] = kept ? v : 0;
  }
}

/** Which of the two metrics an entry reports: `ad-ic` both, `average-drop` AD only, `increase-in-confidence` IC only. */
export type AdIcType = 'ad-ic' | 'average-drop' | 'increase-in-confidence';

export function createAdIc(config: AdIcConfig, where = 'ad-ic', type: AdIcType = 'ad-ic'): Evaluator {
  const levels = config.keep.map((keep) => ({ keep, ad: `ad_${keepPercent(keep)}`, ic: `ic_${keepPercent(keep)}` }));
  const reportAd = type !== 'increase-in-confidence';
  const reportIc = type !== 'average-drop';
  return {
    type,
    target: 'predicted',
    async evaluate(ctx: EvaluationContext): Promise<ImageScore[]> {
      const images = ctx.batch.images;
      const [n, h, w] = images.shape;
      checkMapShape(ctx, where);
      const hw = h * w;
      const [maps, labels] = await Promise.all([ctx.maps.data() as Promise<Float32Array>, ctx.batch.labels.data() as Promise<Int32Array>]);
      const kept = new Float32Array(levels.length * n * hw);
      levels.forEach(({ keep }, l) => {
        for (let b = 0; b < n; b++) keepTopPixels(maps, b * hw, hw, keep, kept, (l * n + b) * hw);
      });
      // probs[j]: softmax prob of the target on input j = originals (0..n-1), then level l image b at n + l*n + b.
      const probs = tf.tidy(() => {
        const weights = tf.tensor4d(kept, [levels.length * n, h, w, 1]);
        const masked = tf.mul(tf.tile(images, [levels.length, 1, 1, 1]), weights);
        const all = tf.concat([images, masked]) as tf.Tensor4D;
        const targets = tf.tile(ctx.targets, [levels.length + 1]);
        const parts: tf.Tensor1D[] = [];
        for (let start = 0; start < all.shape[0]; start += config.batchSize) {
          const size = Math.min(config.batchSize, all.shape[0] - start);
          parts.push(
            tf.tidy(() => {
              const p = tf.softmax(ctx.classifier.logits(all.slice(start, size)));
              return tf.sum(tf.mul(p, tf.oneHot(targets.slice(start, size), p.shape[1])), 1) as tf.Tensor1D;
            }),
          );
        }
        return parts.length === 1 ? parts[0] : (tf.concat(parts) as tf.Tensor1D);
      });
      const p = (await probs.data()) as Float32Array;
      probs.dispose();
      const rows: ImageScore[] = [];
      for (let b = 0; b < n; b++) {
        const y = p[b];
        const base = { id: ctx.batch.ids[b], label: labels[b] };
        levels.forEach(({ ad, ic }, l) => {
          const o = p[n + l * n + b];
          if (reportAd) rows.push({ ...base, metric: ad, value: y > 0 ? (100 * Math.max(0, y - o)) / y : 0 });
          if (reportIc) rows.push({ ...base, metric: ic, value: o > y ? 100 : 0 });
        });
      }
      return rows;
    },
    summarize(rows: ImageScore[], _info: DatasetInfo) {
      const summaries: MetricSummary[] = [];
      for (const { ad, ic } of levels) {
        for (const metric of [ad, ic]) {
          const values = rows.filter((r) => r.metric === metric).map((r) => r.value);
          if (values.length > 0) summaries.push({ metric, value: values.reduce((s, v) => s + v, 0) / values.length, n: values.length, perImage: values });
        }
      }
      return { summaries };
    },
  };
}

registerEvaluator({
  type: 'ad-ic',
  describe: 'Average Drop / Increase in Confidence (Grad-CAM++; TAME protocol at 100/50/15% of pixels kept): softmax of the predicted class on image x map',
  configSchema: AdIcConfig,
  create: (config, { where }) => createAdIc(config, where),
});

// The two halves by the names the Grad-CAM++ paper gives them; `ad-ic` computes both from the same passes.
registerEvaluator({
  type: 'average-drop',
  describe: 'Average Drop alone (ad_100, ad_50, ad_15): the ad-ic protocol, reporting only AD',
  configSchema: AdIcConfig,
  create: (config, { where }) => createAdIc(config, where, 'average-drop'),
});

registerEvaluator({
  type: 'increase-in-confidence',
  describe: 'Increase in Confidence alone (ic_100, ic_50, ic_15): the ad-ic protocol, reporting only IC',
  configSchema: AdIcConfig,
  create: (config, { where }) => createAdIc(config, where, 'increase-in-confidence'),
});
