/**
 * Score-CAM (Wang et al., CVPR-W 2020): channel weights from forward passes of masked inputs
 * instead of gradients. For each image and each channel k of the chosen tap's activations A:
 *
 * `variant: 'paper'` (default) — the paper's Algorithm 1 (Definition 2 + the "softmax
 * normalization" step; recalled, the paper text could not be re-read in this session), which
 * pytorch-grad-cam `ScoreCAM` follows in code (its default target is the logit, it applies
 * `torch.nn.Softmax(dim=-1)` over the channel scores and weights the tap's A_k):
 *   H_k = s(Up(A_k))                     bilinear (half-pixel) upsampling to the input size, then
 *                                        min-max normalization s(.) of that channel to [0,1]
 *   S_k = f^c(x * H_k) - f^c(X_b)        f^c the target's pre-softmax logit, X_b the
 *                                        baseline image
 *   alpha_k = exp(S_k) / sum_k' exp(S_k')   the softmax over channels
 *   map = ReLU(sum_k alpha_k A_k)        at the tap's resolution, then finishMaps.
 * The baseline term f^c(X_b) is the same for every channel and cancels in the softmax over
 * channels, so it is not computed (any baseline, the zero image included, gives the same map).
 * The official code (haofanwang/Score-CAM `scorecam.py`) differs: its weight is the masked
 * input's softmax probability softmax(f(x H_k))_c, with no baseline and no softmax over channels,
 * and it weights the upsampled un-normalized Up(A_k) (close to the 'tame' variant below, with the
 * min subtracted in H_k); the paper's Algorithm 1 and pytorch-grad-cam softmax the logit scores
 * over channels.
 *
 * `variant: 'tame'` — the Score-CAM the TAME paper compares against (tame.md section 7,
 * yiskw713/ScoreCAM `cam.py`):
 *   H_k = Up(ReLU(A_k)) / (max - min of Up(ReLU(A_k)))     (the min is NOT subtracted)
 *   w_k = softmax(f(x * H_k))_c                             (a probability, no baseline)
 *   map = ReLU(sum_k w_k H_k).
 * Since bilinear upsampling is linear and every term is non-negative, sum_k w_k H_k =
 * Up(sum_k (w_k / range_k) ReLU(A_k)): the raw map is formed at the tap's resolution with weights
 * w_k / range_k and finishMaps upsamples it, which is the same map.
 *
 * Both variants: masking happens in [0,1] pixel space (x * H_k, the classifier normalizes inside;
 * the TAME baseline masks the already normalized image, which a zero mask turns into the mean
 * colour rather than black); the masked images of all images and channels of a batch are run
 * together, `batchSize` per forward pass. Channels whose activation map is constant (max = min,
 * e.g. a dead ReLU channel) are skipped, as the official code does (`if saliency_map.max() ==
 * saliency_map.min(): continue`): they get no forward pass and weight 0 (outside the channel
 * softmax in the paper variant). In the tame variant this changes nothing after the min-max
 * normalization (the reference keeps them with a range of 1: a constant non-negative term); an
 * image with every channel constant gets an all-zero map.
 *
 * Parameters (defaults and sources):
 * - layer: the tap to explain (default: the classifier's camTap, the paper's last conv layer).
 * - variant: 'paper' (see above).
 * - batchSize: 32 masked images per forward pass — yiskw713/ScoreCAM `n_batch=32` (the TAME
 *   baseline); pytorch-grad-cam uses 16. Only speed depends on it.
 */
import { resize, tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import { z } from 'zod';
import { registerExplainer, type Explainer, type ExplainerFactory, type ExplainOptions } from '../explainer.js';
import { checkExplainInputs, finishMaps, targetScores } from '../maps.js';
import { CamLayerKeys, resolveCamLayer, weightedActivationMap } from './cam.js';

/** yiskw713/ScoreCAM `ScoreCAM(n_batch=32)`, the TAME paper's baseline code (tame.md section 7). */
export const SCORECAM_BATCH_SIZE = 32;

export const ScoreCamConfig = z.strictObject({
  ...CamLayerKeys,
  variant: z.enum(['paper', 'tame']).default('paper'),
  batchSize: z.int().positive().default(SCORECAM_BATCH_SIZE),
});
export type ScoreCamConfig = z.infer<typeof ScoreCamConfig>;

/** What the Score-CAM channel loop found, for tests and library callers. */
export interface ScoreCamResult {
  /** The map before upsampling, [B,h,w] at the tap's resolution (ReLU applied). */
  raw: tf.Tensor3D;
  /** [B*K] row-major: the channel weights that multiply A_k (paper: alpha_k) or ReLU(A_k) (tame: w_k / range_k); 0 for skipped channels. */
  weights: Float32Array;
  /** [B*K]: the masked-input score of each channel (paper: the logit S_k; tame: the probability w_k); NaN where skipped. */
  scores: Float32Array;
}

/**
 * The Score-CAM channel loop: forward passes of x * H_k for every non-constant channel of every
 * image, `batchSize` at a time, then the raw map at the tap's resolution.
 */
// x: [B,H,W,C] in [0,1], target: [B] int32 -> raw [B,h,w] (+ weights, scores)
export function scoreCamRaw(classifier: Classifier, x: tf.Tensor4D, target: tf.Tensor1D, tap: string, variant: 'paper' | 'tame', batchSize: number): ScoreCamResult {
  const [B, H, W] = x.shape;
  const activations = classifier.features(x, [tap])[tap];
  const [, h, w, K] = activations.shape;
  try {
    // The maps the masks come from, one per (image, channel): [B*K,h,w].
    const sources = tf.tidy(() => {
      const source = variant === 'tame' ? tf.relu(activations) : activations;
      return tf.reshape(tf.transpose(source, [0, 3, 1, 2]), [B * K, h, w]) as tf.Tensor3D;
    });
    const scores = new Float32Array(B * K).fill(NaN);
    const ranges = new Float32Array(B * K);
    try {
      const spread = tf.tidy(() => tf.sub(tf.max(sources, [1, 2]), tf.min(sources, [1, 2])).dataSync());
      const kept: number[] = [];
      for (let i = 0; i < B * K; i++) if (spread[i] > 0) kept.push(i);
      for (let start = 0; start < kept.length; start += batchSize) {
        const ids = kept.slice(start, start + batchSize);
        const [chunkScores, chunkRanges] = tf.tidy(() => {
          const idx = tf.tensor1d(ids, 'int32');
          const image = tf.tensor1d(ids.map((i) => Math.floor(i / K)), 'int32');
          const up = resize(tf.gather(sources, idx) as tf.Tensor3D, [H, W]); // [n,H,W]
          const lo = tf.min(up, [1, 2], true);
          const range = tf.sub(tf.max(up, [1, 2], true), lo);
          const safeRange = tf.where(tf.greater(range, 0), range, tf.onesLike(range));
          const masks = variant === 'tame' ? tf.div(up, safeRange) : tf.div(tf.sub(up, lo), safeRange);
          const inputs = tf.mul(tf.gather(x, image), tf.expandDims(masks, 3)) as tf.Tensor4D;
          const logits = classifier.logits(inputs);
          const score = targetScores(variant === 'tame' ? (tf.softmax(logits) as tf.Tensor2D) : logits, tf.gather(target, image) as tf.Tensor1D);
          return [score.dataSync(), range.dataSync()];
        });
        ids.forEach((id, j) => {
          scores[id] = chunkScores[j];
          ranges[id] = chunkRanges[j];
        });
      }
      const weights = variant === 'tame' ? tameWeights(scores, ranges) : channelSoftmax(scores, B, K);
      const raw = tf.tidy(() => weightedActivationMap(variant === 'tame' ? tf.relu(activations) : activations, tf.tensor4d(weights, [B, 1, 1, K])));
      return { raw, weights, scores };
    } finally {
      sources.dispose();
    }
  } finally {
    activations.dispose();
  }
}

/** alpha = softmax over each image's kept channels (NaN scores are skipped channels: weight 0). */
function channelSoftmax(scores: Float32Array, B: number, K: number): Float32Array {
  const weights = new Float32Array(B * K);
  for (let b = 0; b < B; b++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) if (!Number.isNaN(scores[b * K + k])) max = Math.max(max, scores[b * K + k]);
    if (max === -Infinity) continue;
    let total = 0;
    for (let k = 0; k < K; k++) {
      const s = scores[b * K + k];
      if (Number.isNaN(s)) continue;
      weights[b * K + k] = Math.exp(s - max);
      total += weights[b * K + k];
    }
    for (let k = 0; k < K; k++) weights[b * K + k] /= total;
  }
  return weights;
}

/** w_k / range_k: the weight of ReLU(A_k) that makes sum_k w_k H_k (0 for skipped channels). */
function tameWeights(scores: Float32Array, ranges: Float32Array): Float32Array {
  return scores.map((s, i) => (Number.isNaN(s) ? 0 : s / ranges[i]));
}

export function createScoreCam(config: ScoreCamConfig, ctx: { classifier: Classifier; name: string; where: string }): Explainer {
  const { classifier } = ctx;
  const tap = resolveCamLayer(classifier, config.layer, ctx.where, 'scorecam');
  const [h, w] = classifier.inputShape;
  return {
    name: ctx.name,
    async explain(x: tf.Tensor4D, target: tf.Tensor1D, options: ExplainOptions = {}): Promise<tf.Tensor3D> {
      checkExplainInputs(classifier, x, target, 'scorecam');
      const { raw } = scoreCamRaw(classifier, x, target, tap, config.variant, config.batchSize);
      try {
        return finishMaps(raw, [h, w], options.normalize);
      } finally {
        raw.dispose();
      }
    },
  };
}

export const scoreCamExplainer: ExplainerFactory<ScoreCamConfig> = {
  type: 'scorecam',
  describe: "Score-CAM: channel weights from forward passes of the image masked by each upsampled channel ('paper' or the TAME baseline's 'tame' variant)",
  configSchema: ScoreCamConfig,
  create: (config, ctx) => createScoreCam(config, ctx),
};

registerExplainer(scoreCamExplainer);
