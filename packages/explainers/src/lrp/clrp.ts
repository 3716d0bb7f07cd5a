/**
 * CLRP — contrastive LRP (Gu, Yang, Tresp, ACCV 2018, arXiv 1812.02100), as the reference code
 * computes it (JindongGu/Contrastive-LRP `CLRP/run.py clrp()`, `visualize()`, `clrp_lib.py`).
 *
 * With logits z and target t, two LRP passes over one shared forward pass:
 * - target signal: R^L from one_hot(t) * |z_t|;
 * - dual virtual class, `variant: clrp1` (reference default, "type1"): the output relevance is
 *   |z| at every class but t (0 at t), i.e. all other classes weighted by their |logit|;
 *   `variant: clrp2` ("type2"): one_hot(t) * |z_t| but the logits layer's weights (and bias) are
 *   negated for that pass, W -> -W (the "opposite of t"; under z+ it keeps t's negative weights).
 * - map: R = max(0, sum_c R^L / sum R^L - sum_c R^dual / sum R^dual), each normalized by its own
 *   sum over the whole image (pixels and channels) before the subtraction as `visualize()` does,
 *   summed over channels (the reference shows RGB), then min-max to [0,1] (the reference: /max).
 *   A pass whose relevance sums to 0 is left unnormalized.
 *
 * Parameters (defaults and sources):
 * - variant: 'clrp1' — `run.py` calls `clrp(..., CLRP='type1')`.
 * - rule: 'zplus', firstLayer: 'zb' — the reference preset (z^B on the first conv, z+ on every
 *   other conv and linear layer, `clrp_lib.py`); overridable with the same keys as `lrp`.
 * - epsilon: 1e-9 — the stabilizer the reference adds to every denominator.
 * - alpha: 2 (beta = 1), for rule 'alpha-beta' only.
 * variant clrp2 with rule epsilon is refused (GazeError): the epsilon rule is invariant to W -> -W
 * (a_i (-w_ij) / (-z_j) = a_i w_ij / z_j), so the dual would equal the signal and every map be 0.
 * Deviations: the reference hard-codes ImageNet bounds l = -2.1179, h = 2.64; here they come from
 * the classifier's own normalization. The paper's exact normalization is unverified (methods.md 3.3).
 */
import { GazeError, tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import { z } from 'zod';
import { registerExplainer, type Explainer, type ExplainerFactory, type ExplainOptions } from '../explainer.js';
import { checkExplainInputs, finishMaps, targetOneHot } from '../maps.js';
import { buildLrpGraph, lrpBackward, lrpForward } from './engine.js';
import { LrpRuleKeys } from './lrp.js';

/** The stabilizer `clrp_lib.py` adds to every denominator. */
export const CLRP_EPSILON = 1e-9;

export const ClrpConfig = z.strictObject({
  variant: z.enum(['clrp1', 'clrp2']).default('clrp1'),
  ...LrpRuleKeys,
  epsilon: z.number().nonnegative().default(CLRP_EPSILON),
});
export type ClrpConfig = z.infer<typeof ClrpConfig>;

/** r / sum(r) per image over everything but the batch axis; a zero sum leaves r as it is. */
// r: [B,...] -> [B,...]
function sumNormalize(r: tf.Tensor): tf.Tensor {
  const axes = Array.from({ length: r.rank - 1 }, (_, i) => i + 1);
  const total = tf.sum(r, axes, true);
  return tf.div(r, tf.where(tf.equal(total, 0), tf.onesLike(total), total));
}

export function createClrp(config: ClrpConfig, classifier: Classifier, name = 'clrp', where?: string): Explainer {
  if (config.variant === 'clrp2' && config.rule === 'epsilon') {
    // a_i (-w_ij) / (-z_j) = a_i w_ij / z_j: the dual pass equals the target pass, so every map is 0.
    throw new GazeError('clrp2 with the epsilon rule gives all-zero maps: negating the last layer leaves epsilon-LRP unchanged', {
      where: where ? `${where}.rule` : undefined,
      hint: "use rule: zplus (the reference) or alpha-beta with variant: clrp2, or variant: clrp1",
    });
  }
  const graph = buildLrpGraph(classifier, 'clrp', where);
  const last = graph.steps.find((step) => step.output === graph.logitsId);
  if (config.variant === 'clrp2' && last?.kind !== 'weighted') {
    throw new GazeError(`clrp2 negates the weights of the layer that computes the logits, but '${last?.name}' is a ${last?.op}`, {
      where: where ? `${where}.variant` : undefined,
      hint: 'use variant: clrp1, or a classifier whose logits come straight from a Dense layer',
    });
  }
  const [h, w] = classifier.inputShape;
  return {
    name,
    dispose: () => graph.dispose?.(),
    async explain(x: tf.Tensor4D, target: tf.Tensor1D, options: ExplainOptions = {}): Promise<tf.Tensor3D> {
      checkExplainInputs(classifier, x, target, 'clrp');
      return tf.tidy(() => {
        // x: [B,H,W,C] in [0,1] -> relevance [B,H,W,C] per pass
        const forward = lrpForward(graph, x);
        const logits = tf.abs(forward.values.get(graph.logitsId)!) as tf.Tensor2D;
        const oneHot = targetOneHot(target, logits.shape[1]);
        const signal = lrpBackward(graph, forward, tf.mul(oneHot, logits) as tf.Tensor2D, config);
        const dual =
          config.variant === 'clrp1'
            ? lrpBackward(graph, forward, tf.mul(tf.sub(1, oneHot), logits) as tf.Tensor2D, config)
            : lrpBackward(graph, forward, tf.mul(oneHot, logits) as tf.Tensor2D, config, { negateLogitsLayer: true });
        const contrast = tf.sum(tf.sub(sumNormalize(signal), sumNormalize(dual)), 3) as tf.Tensor3D;
        return finishMaps(tf.relu(contrast), [h, w], options.normalize);
      });
    },
  };
}

export const clrpExplainer: ExplainerFactory<ClrpConfig> = {
  type: 'clrp',
  describe: 'contrastive LRP (Gu et al. 2018): LRP of the target minus LRP of a dual virtual class (clrp1: all other classes, clrp2: negated weights)',
  configSchema: ClrpConfig,
  create: (config, ctx) => createClrp(config, ctx.classifier, ctx.name, ctx.where),
};

registerExplainer(clrpExplainer);
