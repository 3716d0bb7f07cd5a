/**
 * `gradient` — vanilla gradient saliency (Simonyan, Vedaldi, Zisserman 2014, "Deep Inside
 * Convolutional Networks: Visualising Image Classification Models and Saliency Maps", sec. 3.1).
 *
 * As implemented: g = dy^c/dx for every image in one batched backward pass, x in [0,1] pixel
 * space (the classifier's normalization is part of the differentiated function, so g is the
 * gradient with respect to the pixels the user sees); map M_ij = max_c |g_ijc| (the paper's
 * channel reduction), then min-max to [0,1] per image (finishMaps).
 *
 * Parameters (defaults and sources):
 * - score: 'logit' — y^c is the unnormalized class score, as in the paper ("the class score S_c
 *   ... rather than the class posterior returned by the soft-max layer"); 'probability'
 *   differentiates softmax(z)_c instead.
 */
import { tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import { z } from 'zod';
import { registerExplainer, type Explainer, type ExplainerFactory, type ExplainOptions } from '../explainer.js';
import { checkExplainInputs, finishMaps } from '../maps.js';
import { GradientScore, inputGradients, maxAbsOverChannels } from './common.js';

export const GradientConfig = z.strictObject({
  score: GradientScore.default('logit'),
});
export type GradientConfig = z.infer<typeof GradientConfig>;

export function createGradient(config: GradientConfig, classifier: Classifier, name = 'gradient'): Explainer {
  const [h, w] = classifier.inputShape;
  return {
    name,
    async explain(x: tf.Tensor4D, target: tf.Tensor1D, options: ExplainOptions = {}): Promise<tf.Tensor3D> {
      checkExplainInputs(classifier, x, target, 'gradient');
      // x: [B,H,W,C] -> g: [B,H,W,C] -> [B,H,W]
      return tf.tidy(() => finishMaps(maxAbsOverChannels(inputGradients(classifier, x, target, config.score)), [h, w], options.normalize));
    },
  };
}

export const gradientExplainer: ExplainerFactory<GradientConfig> = {
  type: 'gradient',
  describe: 'vanilla gradient saliency (Simonyan et al. 2014): max over channels of |dy_c/dx|',
  configSchema: GradientConfig,
  create: (config, ctx) => createGradient(config, ctx.classifier, ctx.name),
};

registerExplainer(gradientExplainer);
