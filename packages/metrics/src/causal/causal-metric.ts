/**
 * `deletion` and `insertion`: the causal metrics of RISE (Petsiuk et al., BMVC 2018), after
 * eclique/RISE `evaluation.py` (`CausalMetric`) and `Evaluation.ipynb`; metrics.md section 2.
 *
 * Definition as implemented. Per image, with target class c (`target`, default the top-1
 * prediction as the reference):
 * 1. order: pixels sorted by descending map value; ties in stable order by pixel index (row-major)
 *    — the reference's `np.argsort` quicksort orders ties arbitrarily;
 * 2. steps: S + 1 images i = 0..S, image i = `start` with its first k_i pixels of that order (all
 *    channels) copied from `finish`. Deletion: start = the image, finish = the substrate;
 *    insertion: start = the substrate, finish = the image. k_0 = 0 and k_S = H*W, so both
 *    endpoints are scored (the reference's n_steps + 1 scores);
 *    - `steps` S (default 224): k_i = round(i*H*W/S) (halves up). At 224x224 that is the reference
 *      per-image demo's `step = 224` pixels per step exactly; at 32x32 it is 4-5 pixels per step,
 *      so every resolution gets the same 225-point curve (S is capped at H*W);
 *    - or `pixelsPerStep` s (the reference's `step`; the batch demo used 1792 at 224x224):
 *      S = ceil(H*W/s), k_i = min(i*s, H*W);
 * 3. score_i = softmax probability of c (`score: 'probability'`, the reference's
 *    resnet50 + Softmax) or the raw logit (`score: 'logit'`);
 * 4. AUC = trapezoid rule over x_i = k_i/(H*W) in [0,1]. With uniform steps this is the
 *    reference's `(sum - first/2 - last/2) / (len - 1)`; with a short last step (pixelsPerStep not
 *    dividing H*W) it uses the true x spacing, where the reference would assume uniform spacing.
 * Deletion: lower is better; insertion: higher is better.
 *
 * Substrates (`substrate`), in [0,1] pixel space (the classifier normalises inside):
 * - 'zeros' (deletion default): black. The reference zeros the NORMALISED tensor, which is the
 *   dataset mean colour in pixel space: that is 'mean';
 * - 'mean': every pixel = `mean` (one value per channel, or one for all; default the ImageNet mean
 *   [0.485, 0.456, 0.406] = the reference's normalised zero);
 * - 'blur' (insertion default): the image blurred per channel with an `blurKernel` x `blurKernel`
 *   kernel (default 11) of `blurSigma` (default 5), as the reference's `gkern(11, 5)`.
 *   `blurTaps: 'rise'` (default) rebuilds the reference kernel exactly: scipy's
 *   `gaussian_filter(delta, sigma)` of an 11x11 delta (truncate 4, 'reflect' mode), which folds
 *   the Gaussian's tails back into the window and is almost flat (centre 0.00883, corner 0.00774);
 *   `blurTaps: 'gaussian'` uses @gaze/engine's `gaussianBlur` (the sampled, renormalised Gaussian:
 *   centre 0.0120, corner 0.0044). `blurPadding: 'zeros'` (default) pads with zeros like the
 *   reference's `conv2d(padding=5)`, so borders darken (a constant image keeps 54.7% of its
 *   value on the edge rows/columns and 29.9% in the corners, fading over 5 px: a large share of a
 *   32x32 image); 'reflect' does not.
 *
 * Batching: the pixel order is computed once per image; the images of ALL steps of ALL images of
 * the batch go through the classifier in chunks of `batchSize` (default 128) images, the scores of
 * one chunk being the only thing read back. A chunk is assembled in a typed array from the start
 * and finish images (read once per batch): step i of an image is a copy of step i-1 plus the
 * pixels ranked in [k_{i-1}, k_i), so a chunk costs a memcpy per image. On the wasm backend this
 * is ~6x faster than the on-device formulation where(rank < k_i, finish, start) with gathers
 * (37 ms vs 6 ms per 128 images of 32x32x3, measured), which cost more than the forwards
 * themselves. (The reference writes numpy pixels in place, which only works on the CPU.)
 *
 * Rows: `deletion_auc` / `insertion_auc` per image; each row also carries its curve
 * (`CausalImageScore.curve`, kept out of metrics_per_image.csv by the runner, which copies the
 * contract's fields only); `summarize` gives the mean AUC with perImage and the mean curve
 * (`deletion` / `insertion`: mean score per step against the fraction of pixels removed /
 * inserted) over the rows whose curves have the same number of points as the first.
 */
import { GazeError, gaussianBlur, tf } from '@gaze/engine';
import type { DatasetInfo } from '@gaze/data';
import { IMAGENET_MEAN } from '@gaze/models';
import { z } from 'zod';
import { checkMapShape, type EvaluationContext, type Evaluator, type ImageScore, type MetricCurve, type MetricSummary } from '../evaluator.js';

/** RISE `Evaluation.ipynb` per-image demo: step = 224 pixels at 224x224, i.e. 224 steps. */
export const CAUSAL_STEPS = 224;
/** RISE `gkern(klen=11, nsig=5)`. */
export const CAUSAL_BLUR_KERNEL = 11;
export const CAUSAL_BLUR_SIGMA = 5;
/** What RISE's zero in ImageNet-normalised space is in pixel space (re-exported from @gaze/models). */
export { IMAGENET_MEAN };
export const CAUSAL_BATCH_SIZE = 128;

export type CausalMode = 'deletion' | 'insertion';
export type Substrate = 'zeros' | 'mean' | 'blur';

function causalConfig(substrate: Substrate) {
  return z
    .strictObject({
      target: z.enum(['predicted', 'label']).default('predicted'),
      steps: z.int().positive().optional(),
      pixelsPerStep: z.int().positive().optional(),
      score: z.enum(['probability', 'logit']).default('probability'),
      substrate: z.enum(['zeros', 'mean', 'blur']).default(substrate),
      mean: z.array(z.number()).min(1).default(IMAGENET_MEAN),
      blurKernel: z
        .int()
        .positive()
        .refine((k) => k % 2 === 1, { message: 'blurKernel must be odd' })
        .default(CAUSAL_BLUR_KERNEL),
      blurSigma: z.number().positive().default(CAUSAL_BLUR_SIGMA),
      blurTaps: z.enum(['rise', 'gaussian']).default('rise'),
      blurPadding: z.enum(['zeros', 'reflect']).default('zeros'),
      batchSize: z.int().positive().default(CAUSAL_BATCH_SIZE),
    })
    .refine((c) => c.steps === undefined || c.pixelsPerStep === undefined, { message: 'give either steps or pixelsPerStep, not both', path: ['pixelsPerStep'] });
}
export const DeletionConfig = causalConfig('zeros');
export type DeletionConfig = z.infer<typeof DeletionConfig>;
export const InsertionConfig = causalConfig('blur');
export type InsertionConfig = z.infer<typeof InsertionConfig>;
export type CausalConfig = DeletionConfig;

/** A deletion/insertion row with the image's curve: y[i] = score at step i, x[i] = fraction of pixels changed. */
export interface CausalImageScore extends ImageScore {
  curve?: { x: number[]; y: number[] };
}

/**
 * Pixels changed after each step: k_0 = 0, ..., k_S = n. `steps`: k_i = round(i*n/S) (S capped
 * at n); `pixelsPerStep` s: k_i = min(i*s, n), S = ceil(n/s).
 */
export function stepCounts(n: number, o: { steps?: number; pixelsPerStep?: number }): number[] {
  if (o.pixelsPerStep !== undefined) {
    const s = o.pixelsPerStep;
    const count = Math.ceil(n / s);
    return Array.from({ length: count + 1 }, (_, i) => Math.min(i * s, n));
  }
  const steps = Math.min(o.steps ?? CAUSAL_STEPS, n);
  // round(i*n/S) with halves up, in integers.
  return Array.from({ length: steps + 1 }, (_, i) => Math.floor((2 * i * n + steps) / (2 * steps)));
}

/** Trapezoid area under y over x (x increasing from 0 to 1 for the causal curves). */
export function trapezoidAuc(x: readonly number[], y: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area;
}

/** The pixels of values[offset .. offset + n) in descending order of value, ties by index (a stable sort). */
export function descendingOrder(values: ArrayLike<number>, offset: number, n: number): Int32Array {
  const v = Float32Array.from({ length: n }, (_, p) => values[offset + p]);
  return Int32Array.from({ length: n }, (_, p) => p).sort((a, b) => v[b] - v[a] || a - b);
}

/**
 * The 1-D taps of RISE's `gkern(size, sigma)` = scipy `gaussian_filter` of a centred delta of
 * length `size` (radius round(4*sigma), mode 'reflect' = half-sample symmetric). The 2-D kernel
 * is their outer product (the filter and the delta are separable). Sums to 1.
 */
export function riseKernel1d(size: number, sigma: number): Float64Array {
  const radius = Math.floor(4 * sigma + 0.5);
  let z = 0;
  for (let t = -radius; t <= radius; t++) z += Math.exp(-(t * t) / (2 * sigma * sigma));
  const centre = (size - 1) / 2;
  const taps = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    // Output i gathers input positions e in [i - radius, i + radius] whose reflection is the delta.
    for (let e = i - radius; e <= i + radius; e++) {
      let m = ((e % (2 * size)) + 2 * size) % (2 * size);
      if (m >= size) m = 2 * size - 1 - m;
      if (m === centre) taps[i] += Math.exp(-((e - i) ** 2) / (2 * sigma * sigma)) / z;
    }
  }
  return taps;
}

// x: [B,H,W,C] -> [B,H,W,C], each channel convolved with taps (x) taps.
function separableBlur(x: tf.Tensor4D, taps: ArrayLike<number>, padding: 'zeros' | 'reflect'): tf.Tensor4D {
  const k = taps.length;
  const half = (k - 1) / 2;
  const c = x.shape[3];
  return tf.tidy(() => {
    const column = tf.tensor1d(Array.from(taps)).reshape([k, 1, 1, 1]).tile([1, 1, c, 1]) as tf.Tensor4D;
    const row = column.reshape([1, k, c, 1]) as tf.Tensor4D;
    if (padding === 'zeros') return tf.depthwiseConv2d(tf.depthwiseConv2d(x, column, 1, 'same'), row, 1, 'same');
    const padded = tf.mirrorPad(x, [[0, 0], [half, half], [half, half], [0, 0]], 'reflect');
    return tf.depthwiseConv2d(tf.depthwiseConv2d(padded, column, 1, 'valid'), row, 1, 'valid');
  });
}

/** The substrate of a batch of images: black, a constant colour, or the blurred image. */
// images: [B,H,W,C] in [0,1] -> [B,H,W,C]
export function causalSubstrate(images: tf.Tensor4D, config: CausalConfig, where: string): tf.Tensor4D {
  const [, h, w, c] = images.shape;
  if (config.substrate === 'zeros') return tf.zerosLike(images);
  if (config.substrate === 'mean') {
    const mean = config.mean.length === 1 ? new Array<number>(c).fill(config.mean[0]) : config.mean;
    if (mean.length !== c) {
      throw new GazeError(`substrate 'mean' needs ${c} channel means (or one), got ${config.mean.length}`, { where: `${where}.mean`, hint: `set mean: [${new Array(c).fill(0.5).join(', ')}]` });
    }
    return tf.tidy(() => tf.mul(tf.onesLike(images), tf.tensor1d(mean)) as tf.Tensor4D);
  }
  const half = (config.blurKernel - 1) / 2;
  if (config.blurPadding === 'reflect' && (h <= half || w <= half)) {
    throw new GazeError(`blurPadding 'reflect' needs images larger than ${half} px, got ${h}x${w}`, { where: `${where}.blurPadding`, hint: "use blurPadding: 'zeros' or a smaller blurKernel" });
  }
  if (config.blurTaps === 'gaussian') return gaussianBlur(images, { kernelSize: config.blurKernel, sigma: config.blurSigma, padding: config.blurPadding });
  return separableBlur(images, riseKernel1d(config.blurKernel, config.blurSigma), config.blurPadding);
}

export function createCausalMetric(mode: CausalMode, config: CausalConfig, where: string = mode): Evaluator {
  const metric = `${mode}_auc`;
  return {
    type: mode,
    target: config.target,
    async evaluate(ctx: EvaluationContext): Promise<ImageScore[]> {
      const images = ctx.batch.images;
      const [n, h, w, c] = images.shape;
      checkMapShape(ctx, where);
      const hw = h * w;
      const counts = stepCounts(hw, config);
      const points = counts.length;
      const x = counts.map((k) => k / hw);
      const [maps, labels, targets] = await Promise.all([
        ctx.maps.data() as Promise<Float32Array>,
        ctx.batch.labels.data() as Promise<Int32Array>,
        ctx.targets.data() as Promise<Int32Array>,
      ]);
      // order[b][r] = the pixel of image b at rank r (descending map value, ties by index).
      const order = Array.from({ length: n }, (_, b) => descendingOrder(maps, b * hw, hw));
      const substrate = causalSubstrate(images, config, where);
      let pixels: Float32Array;
      let substratePixels: Float32Array;
      try {
        [pixels, substratePixels] = (await Promise.all([images.data(), substrate.data()])) as [Float32Array, Float32Array];
      } finally {
        substrate.dispose();
      }
      const [start, finish] = mode === 'deletion' ? [pixels, substratePixels] : [substratePixels, pixels];

      const total = n * points; // job j = image floor(j / points), step j % points
      const scores = new Float64Array(total);
      const size = h * w * c;
      const buffer = new Float32Array(Math.min(config.batchSize, total) * size);
      for (let j0 = 0; j0 < total; j0 += config.batchSize) {
        const count = Math.min(config.batchSize, total - j0);
        const jobTargets = new Int32Array(count);
        for (let q = 0; q < count; q++) {
          const b = Math.floor((j0 + q) / points);
          const i = (j0 + q) % points;
          jobTargets[q] = targets[b];
          // Image q = start with its first counts[i] ranked pixels from finish; the previous step
          // of the same image, when it is in this chunk, already has counts[i - 1] of them.
          const at = q * size;
          let from = 0;
          if (q > 0 && i > 0) {
            buffer.copyWithin(at, at - size, at);
            from = counts[i - 1];
          } else {
            buffer.set(start.subarray(b * size, (b + 1) * size), at);
          }
          const ranked = order[b];
          for (let r = from; r < counts[i]; r++) {
            const src = b * size + ranked[r] * c;
            const dst = at + ranked[r] * c;
            for (let ch = 0; ch < c; ch++) buffer[dst + ch] = finish[src + ch];
          }
        }
        const s = tf.tidy(() => {
          const logits = ctx.classifier.logits(tf.tensor4d(buffer.subarray(0, count * size), [count, h, w, c]));
          const out = config.score === 'probability' ? tf.softmax(logits) : logits;
          return tf.sum(tf.mul(out, tf.oneHot(tf.tensor1d(jobTargets, 'int32'), out.shape[1])), 1);
        });
        const v = await s.data();
        s.dispose();
        scores.set(v, j0);
      }
      const rows: CausalImageScore[] = [];
      for (let b = 0; b < n; b++) {
        const y = Array.from(scores.subarray(b * points, (b + 1) * points));
        rows.push({ id: ctx.batch.ids[b], label: labels[b], metric, value: trapezoidAuc(x, y), curve: { x, y } });
      }
      return rows;
    },
    summarize(rows: ImageScore[], _info: DatasetInfo) {
      const mine = rows.filter((r) => r.metric === metric) as CausalImageScore[];
      const summaries: MetricSummary[] = [];
      if (mine.length === 0) return { summaries };
      const values = mine.map((r) => r.value);
      summaries.push({ metric, value: values.reduce((s, v) => s + v, 0) / values.length, n: values.length, perImage: values });
      const curves: MetricCurve[] = [];
      const withCurve = mine.filter((r) => r.curve);
      if (withCurve.length > 0) {
        const len = withCurve[0].curve!.x.length;
        const same = withCurve.filter((r) => r.curve!.x.length === len);
        const mean = (pick: (r: CausalImageScore) => number[]) => Array.from({ length: len }, (_, i) => same.reduce((s, r) => s + pick(r)[i], 0) / same.length);
        curves.push({
          metric: mode,
          x: mean((r) => r.curve!.x),
          y: mean((r) => r.curve!.y),
          xTitle: `fraction of pixels ${mode === 'deletion' ? 'removed' : 'inserted'}`,
          yTitle: config.score === 'probability' ? 'class probability' : 'class logit',
        });
      }
      return { summaries, curves };
    },
  };
}
