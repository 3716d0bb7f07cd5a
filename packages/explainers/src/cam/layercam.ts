/**
 * Layer-CAM (Jiang et al., IEEE TIP 2021, eqs. 5-6): elementwise weights instead of channel
 * weights,
 *   map = ReLU(sum_k ReLU(dy^c/dA_ijk) A_ijk),
 * with y^c the target's pre-softmax logit (as pytorch-grad-cam's `LayerCAM`), then upsampled and
 * min-max normalized (finishMaps). The paper also fuses several layers; here one tap is explained
 * (combine taps by running one explainer per tap).
 *
 * Parameters: `layer` — the tap to explain (default: the classifier's camTap, its last conv layer).
 */
import { tf } from '@gaze/engine';
import { z } from 'zod';
import { registerExplainer, type ExplainerFactory } from '../explainer.js';
import { CamLayerKeys, gradientCamExplainer } from './cam.js';

export const LayerCamConfig = z.strictObject({ ...CamLayerKeys });
export type LayerCamConfig = z.infer<typeof LayerCamConfig>;

/** W_ijk = ReLU(g_ijk). */
// activations, gradients: [B,h,w,K] -> [B,h,w,K]
export function layerCamWeights(_activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.relu(gradients));
}

export const layerCamExplainer: ExplainerFactory<LayerCamConfig> = {
  type: 'layercam',
  describe: 'Layer-CAM: ReLU(sum_k ReLU(dy^c/dA_k) * A_k) elementwise, at a feature tap (default the deepest)',
  configSchema: LayerCamConfig,
  create: (config, ctx) => gradientCamExplainer('layercam', layerCamWeights, config, ctx),
};

registerExplainer(layerCamExplainer);
