/**
 * Grad-CAM++ (Chattopadhay et al., WACV 2018, eqs. 19-20), as implemented here:
 *   alpha_ijk = g_ijk^2 / (2 g_ijk^2 + g_ijk^3 * sum_ab A_abk)     (a zero denominator -> 1)
 *   w_k       = sum_ij alpha_ijk ReLU(g_ijk)
 *   map       = ReLU(sum_k w_k A_k), then upsampled and min-max normalized (finishMaps),
 * with g = dy^c/dA the first-order gradient of the target's pre-softmax logit S^c.
 *
 * How this relates to the paper's exp(score) form: the paper differentiates Y^c = exp(S^c) and,
 * since a ReLU network is piecewise linear in A (d^2 S/dA^2 = 0), d^2Y/dA^2 = exp(S) g^2 and
 * d^3Y/dA^3 = exp(S) g^3; exp(S) cancels in alpha, and w_k = exp(S) sum_ij alpha ReLU(g) differs
 * from ours by one positive factor per image, which the per-image min-max normalization removes.
 * So this closed form with first-order logit gradients gives the paper's map exactly.
 * - pytorch-grad-cam `GradCAMPlusPlus`: the same formula on the logit gradient; it adds 1e-6 to
 *   the denominator and zeroes alpha where g = 0 instead of the zero -> 1 rule (same result up to
 *   the epsilon).
 * - The authors' code (adityac94/Grad_CAM_plus_plus) uses the zero -> 1 rule taken here, and also
 *   divides the alphas by their per-channel sum over positions with g > 0; that renormalization
 *   is in neither eq. 19-20 nor pytorch-grad-cam and is not done here.
 * - The TAME baseline (tame.md section 7, yiskw713/ScoreCAM `GradCAMpp`) differs in two ways:
 *   g there is the gradient of the softmax probability (its model is wrapped in a Softmax), and
 *   its denominator is 2 g_ij^2 + sum_ab A_ab g_ab^3 (the cube taken at every position ab and
 *   summed) instead of the paper's g_ij^3 sum_ab A_ab; its exp(y^c) factor cancels as above.
 *
 * Parameters: `layer` — the tap to explain (default: the classifier's camTap, its last conv layer).
 */
import { tf } from '@gaze/engine';
import { z } from 'zod';
import { registerExplainer, type ExplainerFactory } from '../explainer.js';
import { CamLayerKeys, gradientCamExplainer } from './cam.js';

export const GradCamPlusPlusConfig = z.strictObject({ ...CamLayerKeys });
export type GradCamPlusPlusConfig = z.infer<typeof GradCamPlusPlusConfig>;

/** alpha_ijk = g^2 / (2 g^2 + g^3 sum_ab A_abk), a zero denominator replaced by 1. */
// activations, gradients: [B,h,w,K] -> [B,h,w,K]
export function gradCamPlusPlusAlphas(activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const sumA = tf.sum(activations, [1, 2], true);
    const g2 = tf.square(gradients);
    const g3 = tf.mul(g2, gradients);
    const denominator = tf.add(tf.mul(g2, 2), tf.mul(g3, sumA));
    const safe = tf.where(tf.equal(denominator, 0), tf.onesLike(denominator), denominator);
    return tf.div(g2, safe) as tf.Tensor4D;
  });
}

/** w_k = sum_ij alpha_ijk ReLU(g_ijk). */
// activations, gradients: [B,h,w,K] -> [B,1,1,K]
export function gradCamPlusPlusWeights(activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sum(tf.mul(gradCamPlusPlusAlphas(activations, gradients), tf.relu(gradients)), [1, 2], true) as tf.Tensor4D);
}

export const gradCamPlusPlusExplainer: ExplainerFactory<GradCamPlusPlusConfig> = {
  type: 'gradcam++',
  describe: 'Grad-CAM++: channel weights sum_ij alpha_ij ReLU(dy^c/dA), alpha from the closed form of Chattopadhay et al.',
  configSchema: GradCamPlusPlusConfig,
  create: (config, ctx) => gradientCamExplainer('gradcam++', gradCamPlusPlusWeights, config, ctx),
};

registerExplainer(gradCamPlusPlusExplainer);
