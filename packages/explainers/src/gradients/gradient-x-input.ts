/**
 * `gradient-x-input` — gradient times input (Shrikumar et al. 2016, "Not Just a Black Box",
 * arXiv 1605.01713; captum `InputXGradient`).
 *
 * As implemented: a = x ⊙ dy^c/dx with x in [0,1] pixel space (one batched backward pass); the
 * map is the channel sum s = sum_c a, then `sign`: |s| (`absolute`, default) or max(0, s)
 * (`positive`); then min-max to [0,1] per image (finishMaps).
 *
 * Negative values: x * g is signed — negative where a pixel's presence lowers the score. Captum
 * returns the signed attribution and leaves the sign to its visualizer, whose default
 * (`visualize_image_attr(sign='absolute_value')`) shows |sum_c a|; `positive` keeps only the
 * evidence for the class (captum sign='positive'). Note: x is the [0,1] pixel (the baseline
 * "0" is black), not the normalized network input.
 *
 * Parameters (defaults and sources):
 * - score: 'logit' (see `gradient`).
 * - sign: 'absolute' — captum's visualization default.
 */
import { tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import { z } from 'zod';
import { registerExplainer, type Explainer, type ExplainerFactory, type ExplainOptions } from '../explainer.js';
import { checkExplainInputs, finishMaps } from '../maps.js';
import { AttributionSign, GradientScore, inputGradients, signedChannelSum } from './common.js';

export const GradientXInputConfig = z.strictObject({
  score: GradientScore.default('logit'),
  sign: AttributionSign.default('absolute'),
});
export type GradientXInputConfig = z.infer<typeof GradientXInputConfig>;

export function createGradientXInput(config: GradientXInputConfig, classifier: Classifier, name = 'gradient-x-input'): Explainer {
  const [h, w] = classifier.inputShape;
  return {
    name,
    async explain(x: tf.Tensor4D, target: tf.Tensor1D, options: ExplainOptions = {}): Promise<tf.Tensor3D> {
      checkExplainInputs(classifier, x, target, 'gradient-x-input');
      // x: [B,H,W,C] -> x * g: [B,H,W,C] -> [B,H,W]
      return tf.tidy(() => {
        const a = tf.mul(x, inputGradients(classifier, x, target, config.score)) as tf.Tensor4D;
        return finishMaps(signedChannelSum(a, config.sign), [h, w], options.normalize);
      });
    },
  };
}

export const gradientXInputExplainer: ExplainerFactory<GradientXInputConfig> = {
  type: 'gradient-x-input',
  describe: 'gradient times input (x * dy_c/dx), summed over channels, absolute value or positive part',
  configSchema: GradientXInputConfig,
  create: (config, ctx) => createGradientXInput(config, ctx.classifier, ctx.name),
};

registerExplainer(gradientXInputExplainer);
