/**
 * Grad-CAM (Selvaraju et al., ICCV 2017, eqs. 1-2): with A the activations of the chosen tap and
 * y^c the target's pre-softmax logit,
 *   w_k = mean_ij dy^c/dA_ijk,   map = ReLU(sum_k w_k A_k),
 * then bilinearly upsampled (half-pixel) to the input and min-max normalized per image (finishMaps).
 * This is pytorch-grad-cam's `GradCAM` and the TAME baseline's (tame.md section 7) formula.
 *
 * Parameters: `layer` — the tap to explain (default: the classifier's camTap, the paper's
 * "last convolutional layer").
 */
import { tf } from '@gaze/engine';
import { z } from 'zod';
import { registerExplainer, type ExplainerFactory } from '../explainer.js';
import { CamLayerKeys, gradientCamExplainer } from './cam.js';

export const GradCamConfig = z.strictObject({ ...CamLayerKeys });
export type GradCamConfig = z.infer<typeof GradCamConfig>;

/** w_k = mean_ij g_ijk (the paper's global-average-pooled gradients). */
// activations, gradients: [B,h,w,K] -> [B,1,1,K]
export function gradCamWeights(_activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mean(gradients, [1, 2], true) as tf.Tensor4D);
}

export const gradCamExplainer: ExplainerFactory<GradCamConfig> = {
  type: 'gradcam',
  describe: 'Grad-CAM: ReLU(sum_k mean(dy^c/dA_k) A_k) at a feature tap (default the deepest)',
  configSchema: GradCamConfig,
  create: (config, ctx) => gradientCamExplainer('gradcam', gradCamWeights, config, ctx),
};

registerExplainer(gradCamExplainer);
