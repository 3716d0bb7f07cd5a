/**
 * LRP — layer-wise relevance propagation (Bach et al. 2015, PLoS ONE; Montavon et al. 2017
 * deep Taylor decomposition; rules as in Montavon et al. 2019 "Layer-Wise Relevance Propagation:
 * An Overview").
 *
 * As implemented (engine.ts, rules.ts): one batched forward pass through the classifier's layer
 * graph keeps every activation; relevance starts at the logits as R = one_hot(t) * z_t
 * (`start: abs-logit`, the default, uses |z_t| as the CLRP reference `run.py clrp()` does;
 * `start: logit` uses z_t, Bach et al.) and is propagated back layer by layer:
 * - hidden conv/dense/avg-pool/add/BN layers: `rule`
 *   - `epsilon`: R_i = sum_j a_i w_ij / (z_j + eps sign(z_j)) R_j, z_j = sum_i a_i w_ij + b_j;
 *   - `zplus` (= alpha1 beta0): R_i = sum_j (a_i w_ij)^+ / (sum_i' (a_i' w_i'j)^+ + eps) R_j, bias
 *     ignored (for post-ReLU inputs exactly the CLRP reference's x * W+^T (R / (x W+ + 1e-9)));
 *   - `alpha-beta`: alpha (a w)^+ / z^+ - beta (a w)^- / z^-, beta = alpha - 1, bias ignored;
 *   each is computed with the "gradient trick": z = layer'(a) with modified weights, s = R / z,
 *   R_in = a * (W'^T s), W'^T s by a transposed conv / matmul or tf.grads of the single layer.
 * - the first conv/dense layer (reading the normalized image, directly or through flatten/pooling):
 *   `firstLayer: zb` (default) is the z^B box rule with l, h = the normalized values of pixels 0
 *   and 1 per channel (the CLRP code hard-codes the ImageNet ones, -2.1179 and 2.64); `same`
 *   applies the hidden rule there too.
 * - parameter-free linear layers (average pooling, GAP, Add) take alpha-beta as z+ (alpha > 1
 *   would only amplify relevance where no weight has a sign).
 * - max pooling: winner-take-all, ties split equally; ReLU/Dropout: identity; Flatten/Reshape:
 *   reshape; BN after a conv that feeds only it: folded into the conv (w g/sqrt(v+e), (b-m) g/sqrt(v+e) + beta);
 *   Add: split in proportion to each input's contribution under the epsilon rule (z+ / alpha-beta:
 *   to the positive / signed parts, so z+ stays non-negative on residual nets).
 * The map is the input relevance summed over channels, then ReLU, then min-max to [0,1]
 * (finishMaps); the reference shows max(0, R)/max per RGB channel, the same up to the min-max
 * when the map touches 0.
 *
 * Parameters (defaults and sources):
 * - rule: 'zplus' — the CLRP reference's hidden-layer rule (`clrp_lib.py`), so `lrp` is the
 *   baseline the CLRP paper compares against; 'epsilon' is the conservative choice.
 * - epsilon: 1e-6 — zennit's `Epsilon(epsilon=1e-6)` default (also its z+ stabilizer). The LRP
 *   overview's VGG-16 tutorial instead uses eps = 0.25 * RMS(z) in the middle layers, a heavier,
 *   data-dependent smoothing that is not offered here.
 * - alpha: 2 (beta = 1) — LRP-alpha2beta1 (Bach et al. 2015).
 * - firstLayer: 'zb' — the CLRP reference (`FirstConv_backward_hook`); Montavon et al. 2017.
 * - start: 'abs-logit' — the CLRP reference starts every pass from |z|; 'logit' keeps the sign,
 *   which conservation (sum_i R_i = z_t with zero biases and the epsilon rule) needs.
 * Deviations: relevance at the first layer's padding is dropped (as in the reference); biases
 * absorb relevance under the epsilon rule (not redistributed); unsupported layers
 * (e.g. depthwise conv, LayerNormalization, non-relu activations) are a GazeError at create().
 */
import { tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import { z } from 'zod';
import { registerExplainer, type Explainer, type ExplainerFactory, type ExplainOptions } from '../explainer.js';
import { checkExplainInputs, finishMaps, targetOneHot } from '../maps.js';
import { buildLrpGraph, lrpBackward, lrpForward, type LrpGraph, type LrpRules } from './engine.js';

/** zennit `rules.Epsilon(epsilon=1e-6)`. */
export const LRP_EPSILON = 1e-6;
/** LRP-alpha2beta1, Bach et al. 2015. */
export const LRP_ALPHA = 2;

export const LrpRuleKeys = {
  rule: z.enum(['epsilon', 'zplus', 'alpha-beta']).default('zplus'),
  epsilon: z.number().nonnegative().default(LRP_EPSILON),
  alpha: z.number().min(1).default(LRP_ALPHA),
  firstLayer: z.enum(['zb', 'same']).default('zb'),
};

export const LrpConfig = z.strictObject({
  ...LrpRuleKeys,
  start: z.enum(['abs-logit', 'logit']).default('abs-logit'),
});
export type LrpConfig = z.infer<typeof LrpConfig>;

/** one_hot(target) * z (or |z|): the relevance at the logits. */
// logits: [B,K], target: [B] int32 -> [B,K]
export function startRelevance(logits: tf.Tensor2D, target: tf.Tensor1D, start: 'abs-logit' | 'logit'): tf.Tensor2D {
  return tf.tidy(() => tf.mul(targetOneHot(target, logits.shape[1]), start === 'abs-logit' ? tf.abs(logits) : logits) as tf.Tensor2D);
}

/**
 * The input relevance of LRP in normalized space, per channel, for a library caller or a test.
 * `graph` may be reused across calls (buildLrpGraph(classifier, 'lrp')).
 */
// x: [B,H,W,C] in [0,1], target: [B] int32 -> { relevance: [B,H,W,C], logits: [B,K] }
export function lrpRelevance(graph: LrpGraph, x: tf.Tensor4D, target: tf.Tensor1D, rules: LrpRules, start: 'abs-logit' | 'logit' = 'abs-logit'): { relevance: tf.Tensor4D; logits: tf.Tensor2D } {
  return tf.tidy(() => {
    const forward = lrpForward(graph, x);
    const logits = forward.values.get(graph.logitsId) as tf.Tensor2D;
    const relevance = lrpBackward(graph, forward, startRelevance(logits, target, start), rules);
    return { relevance, logits };
  });
}

export function createLrp(config: LrpConfig, classifier: Classifier, name = 'lrp', where?: string): Explainer {
  const graph = buildLrpGraph(classifier, 'lrp', where);
  const [h, w] = classifier.inputShape;
  return {
    name,
    dispose: () => graph.dispose?.(),
    async explain(x: tf.Tensor4D, target: tf.Tensor1D, options: ExplainOptions = {}): Promise<tf.Tensor3D> {
      checkExplainInputs(classifier, x, target, 'lrp');
      return tf.tidy(() => {
        const { relevance } = lrpRelevance(graph, x, target, config, config.start);
        return finishMaps(tf.relu(tf.sum(relevance, 3)) as tf.Tensor3D, [h, w], options.normalize);
      });
    },
  };
}

export const lrpExplainer: ExplainerFactory<LrpConfig> = {
  type: 'lrp',
  describe: 'layer-wise relevance propagation (epsilon, z+ or alpha-beta; z^B first layer), relevance summed over channels',
  configSchema: LrpConfig,
  create: (config, ctx) => createLrp(config, ctx.classifier, ctx.name, ctx.where),
};

registerExplainer(lrpExplainer);
