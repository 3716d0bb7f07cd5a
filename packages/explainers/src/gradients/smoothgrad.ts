/**
 * `smoothgrad` — SmoothGrad (Smilkov, Thorat, Kim, Viégas, Wattenberg 2017, "SmoothGrad:
 * removing noise by adding noise", arXiv 1706.03825).
 *
 * As implemented: ĝ = (1/n) sum_{k=1..n} dy^c/dx (x + ε_k), ε_k ~ N(0, σ²) i.i.d. per pixel and
 * channel, σ = `noise` × (x_max − x_min) = `noise` (inputs live in [0,1]); noisy copies are not
 * clipped to [0,1] (the paper does not clip). The map is max_c |ĝ| (as `gradient`, Simonyan et
 * al.), then min-max to [0,1] per image (finishMaps).
 *
 * Batching: all n noisy copies of a chunk of images go through one forward/backward pass; a chunk
 * holds max(1, floor(`passRows` / n)) images.
 *
 * Randomness: the noise comes from the engine's `Rng(seed, 'smoothgrad')` (Box-Muller normals),
 * restarted at every explain() call and consumed image by image in batch order, so a call's maps
 * depend only on (seed, x, target) — not on earlier calls or on `passRows`.
 *
 * Parameters (defaults and sources):
 * - samples: 50 — the paper's choice (diminishing returns beyond n ≈ 50).
 * - noise: 0.15 — the middle of the paper's recommended 10%-20% noise level (σ / (x_max − x_min)).
 * (captum's NoiseTunnel defaults, nt_samples = 5 and stdevs = 1.0, are not the paper's.)
 * - score: 'logit' (see `gradient`).
 * - passRows: 512 rows (image copies) per pass.
 */
import { Rng, tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import { z } from 'zod';
import { registerExplainer, type Explainer, type ExplainerFactory, type ExplainOptions } from '../explainer.js';
import { checkExplainInputs, finishMaps } from '../maps.js';
import { GRADIENT_PASS_ROWS, GradientScore, imagesPerPass, inputGradients, mapChunks, maxAbsOverChannels, repeatRows } from './common.js';

/** Smilkov et al. 2017: n = 50 samples. */
export const SMOOTHGRAD_SAMPLES = 50;
/** Smilkov et al. 2017: noise level 10%-20% of the input range; the middle of it. */
export const SMOOTHGRAD_NOISE = 0.15;

export const SmoothGradConfig = z.strictObject({
  samples: z.number().int().positive().default(SMOOTHGRAD_SAMPLES),
  noise: z.number().nonnegative().default(SMOOTHGRAD_NOISE),
  score: GradientScore.default('logit'),
  passRows: z.number().int().positive().default(GRADIENT_PASS_ROWS),
});
export type SmoothGradConfig = z.infer<typeof SmoothGradConfig>;

/**
 * The mean gradient over `samples` noisy copies of each image, for a library caller or a test.
 * `rng` supplies the noise (consumed image by image).
 */
// x: [B,H,W,C] in [0,1], target: [B] int32 -> [B,H,W,C]
export function smoothGradients(
  classifier: Classifier,
  x: tf.Tensor4D,
  target: tf.Tensor1D,
  options: { samples: number; noise: number; score: GradientScore; passRows: number; rng: Rng },
): tf.Tensor4D {
  const { samples: n, noise, score, passRows, rng } = options;
  const [, h, w, c] = x.shape;
  return mapChunks(x, target, imagesPerPass(n, passRows), (xs, ts) => {
    const rows = xs.shape[0] * n;
    const eps = new Float32Array(rows * h * w * c);
    for (let i = 0; i < eps.length; i++) eps[i] = rng.normal(0, noise);
    // [c*n,H,W,C] noisy copies, image-major; one backward pass for all of them.
    const noisy = tf.add(repeatRows(xs, n), tf.tensor4d(eps, [rows, h, w, c])) as tf.Tensor4D;
    const g = inputGradients(classifier, noisy, repeatRows(ts, n), score);
    return { g: tf.mean(tf.reshape(g, [xs.shape[0], n, h, w, c]), 1) as tf.Tensor4D };
  }).g;
}

export function createSmoothGrad(config: SmoothGradConfig, classifier: Classifier, seed: number, name = 'smoothgrad'): Explainer {
  const [h, w] = classifier.inputShape;
  return {
    name,
    async explain(x: tf.Tensor4D, target: tf.Tensor1D, options: ExplainOptions = {}): Promise<tf.Tensor3D> {
      checkExplainInputs(classifier, x, target, 'smoothgrad');
      const rng = new Rng(seed, 'smoothgrad');
      return tf.tidy(() => finishMaps(maxAbsOverChannels(smoothGradients(classifier, x, target, { ...config, rng })), [h, w], options.normalize));
    },
  };
}

export const smoothGradExplainer: ExplainerFactory<SmoothGradConfig> = {
  type: 'smoothgrad',
  describe: 'SmoothGrad (Smilkov et al. 2017): gradient averaged over noisy copies, max over channels of |.|',
  configSchema: SmoothGradConfig,
  create: (config, ctx) => createSmoothGrad(config, ctx.classifier, ctx.seed, ctx.name),
};

registerExplainer(smoothGradExplainer);
