/**
 * Occlusion (Zeiler & Fergus, ECCV 2014, sec. 4.2; captum `Occlusion`): a `window` x `window`
 * patch filled with `fill` slides over the image with step `stride`; each image's map value at a
 * pixel is the mean, over the windows that cover it, of the target's score drop
 *   drop(window) = score(x) - score(x with the window filled),
 * i.e. captum's `Occlusion.attribute(x, sliding_window_shapes, strides, baselines=fill)`: captum
 * sums (forward(x) - forward(ablated)) over the windows containing each feature and divides by how
 * many there were. The map is signed (occluding a window may raise the score) and is min-max
 * normalized per image to [0,1] (finishMaps), so score-raising regions end lowest.
 *
 * Score: captum uses whatever the forward function returns (logits for a plain classifier);
 * Zeiler & Fergus plot the probability of the correct class. `score: 'probability'` (default,
 * Zeiler & Fergus) takes softmax(f(x))_c, `score: 'logit'` the pre-softmax logit (captum on a
 * logit model).
 *
 * Window positions along each axis are 0, stride, 2 stride, ... while the window fits, plus one
 * window flush with the far border when the stride does not land there, so every pixel is covered
 * (captum stops at the last fitting position and leaves the remainder uncovered). The fill is
 * applied in [0,1] pixel space (0: black), as the classifier normalizes inside. All images of a
 * batch run against each chunk of floor(batchSize / B) windows (at least 1) in one forward pass.
 *
 * Parameters (defaults and sources):
 * - window: max(2, floor(min(H, W) / 8)) px — 4 px at 32x32, 28 px at 224 (captum's tutorials use
 *   15x15 at 224; no paper default exists).
 * - stride: max(1, floor(window / 2)) — half-overlapping windows (captum's tutorials use 8 at 15).
 * - fill: 0 — captum's default baseline.
 * - score: 'probability' (see above).
 * - batchSize: 256 images per forward pass — a speed setting (wasm, 2 cores).
 */
import { GazeError, tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import { z } from 'zod';
import { registerExplainer, type Explainer, type ExplainerFactory, type ExplainOptions } from '../explainer.js';
import { checkExplainInputs, finishMaps, targetScores } from '../maps.js';

/** captum Occlusion's default baseline. */
export const OCCLUSION_FILL = 0;
/** Images per forward pass; a speed setting. */
export const OCCLUSION_BATCH_SIZE = 256;

export const OcclusionConfig = z.strictObject({
  window: z.int().positive().optional(),
  stride: z.int().positive().optional(),
  fill: z.number().default(OCCLUSION_FILL),
  score: z.enum(['probability', 'logit']).default('probability'),
  batchSize: z.int().positive().default(OCCLUSION_BATCH_SIZE),
});
export type OcclusionConfig = z.infer<typeof OcclusionConfig>;

/** The default window: an eighth of the shorter side, at least 2 px. */
export function defaultOcclusionWindow(size: readonly [number, number]): number {
  return Math.max(2, Math.floor(Math.min(size[0], size[1]) / 8));
}

/** Start offsets along an axis of `size`: 0, stride, ... while the window fits, plus size - window if missed. */
export function windowStarts(size: number, window: number, stride: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s + window <= size; s += stride) starts.push(s);
  if (starts[starts.length - 1] + window < size) starts.push(size - window);
  return starts;
}

export interface OcclusionOptions {
  window: number;
  stride: number;
  fill: number;
  score: 'probability' | 'logit';
  batchSize: number;
}

/** The unnormalized occlusion map: at each pixel the mean score drop over the windows covering it. */
// x: [B,H,W,C] in [0,1], target: [B] int32 -> [B,H,W]
export async function occlusionMap(classifier: Classifier, x: tf.Tensor4D, target: tf.Tensor1D, options: OcclusionOptions): Promise<tf.Tensor3D> {
  const [B, H, W, C] = x.shape;
  const { window, stride, fill } = options;
  const ys = windowStarts(H, window, stride);
  const xs = windowStarts(W, window, stride);
  const windows = ys.flatMap((y) => xs.map((x0) => [y, x0] as const));
  const score = (images: tf.Tensor4D, t: tf.Tensor1D) => {
    const logits = classifier.logits(images);
    return targetScores(options.score === 'probability' ? (tf.softmax(logits) as tf.Tensor2D) : logits, t);
  };
  const covered = new Float32Array(H * W);
  for (const [y0, x0] of windows) for (let y = y0; y < y0 + window; y++) for (let x1 = x0; x1 < x0 + window; x1++) covered[y * W + x1] += 1;
  const perPass = Math.max(1, Math.floor(options.batchSize / B));
  const base = tf.tidy(() => score(x, target));
  let sum: tf.Tensor2D = tf.zeros([B, H * W]);
  try {
    for (let start = 0; start < windows.length; start += perPass) {
      const chunk = windows.slice(start, start + perPass);
      const n = chunk.length;
      const data = new Float32Array(n * H * W);
      chunk.forEach(([y0, x0], m) => {
        for (let y = y0; y < y0 + window; y++) data.fill(1, (m * H + y) * W + x0, (m * H + y) * W + x0 + window);
      });
      const next = tf.tidy(() => {
        const masks = tf.tensor2d(data, [n, H * W]);
        const m = tf.reshape(masks, [n, 1, H, W, 1]);
        // x * (1 - m) + fill * m, [n,B,H,W,C] -> [n*B,H,W,C], window-major
        const filled = tf.add(tf.mul(tf.expandDims(x, 0), tf.sub(1, m)), tf.mul(m, fill));
        const inputs = tf.reshape(filled, [n * B, H, W, C]) as tf.Tensor4D;
        const s = tf.reshape(score(inputs, tf.tile(target, [n]) as tf.Tensor1D), [n, B]);
        const drop = tf.sub(tf.expandDims(base, 0), s) as tf.Tensor2D; // [n,B]
        return tf.add(sum, tf.matMul(drop, masks, true, false)) as tf.Tensor2D;
      });
      sum.dispose();
      sum = next;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return tf.tidy(() => tf.reshape(tf.div(sum, tf.tensor2d(covered, [1, H * W])), [B, H, W]) as tf.Tensor3D);
  } finally {
    base.dispose();
    sum.dispose();
  }
}

export function createOcclusion(config: OcclusionConfig, ctx: { classifier: Classifier; name: string; where: string }): Explainer {
  const { classifier } = ctx;
  const [h, w] = classifier.inputShape;
  const window = config.window ?? defaultOcclusionWindow([h, w]);
  if (window > Math.min(h, w)) {
    throw new GazeError(`occlusion: a ${window} px window does not fit the ${h}x${w} input`, { where: `${ctx.where}.window`, hint: `use a window of at most ${Math.min(h, w)} px (default ${defaultOcclusionWindow([h, w])})` });
  }
  const stride = config.stride ?? Math.max(1, Math.floor(window / 2));
  const occlusion: OcclusionOptions = { window, stride, fill: config.fill, score: config.score, batchSize: config.batchSize };
  return {
    name: ctx.name,
    async explain(x: tf.Tensor4D, target: tf.Tensor1D, options: ExplainOptions = {}): Promise<tf.Tensor3D> {
      checkExplainInputs(classifier, x, target, 'occlusion');
      const map = await occlusionMap(classifier, x, target, occlusion);
      try {
        return finishMaps(map, [h, w], options.normalize);
      } finally {
        map.dispose();
      }
    },
  };
}

export const occlusionExplainer: ExplainerFactory<OcclusionConfig> = {
  type: 'occlusion',
  describe: 'Occlusion: mean drop of the target score when a sliding patch covering the pixel is filled',
  configSchema: OcclusionConfig,
  create: (config, ctx) => createOcclusion(config, ctx),
};

registerExplainer(occlusionExplainer);
