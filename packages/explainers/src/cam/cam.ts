/**
 * The CAM pipeline every class-activation-map variant shares (the pytorch-grad-cam `BaseCAM`
 * shape): pick a tap (config `layer`, default the classifier's camTap: its last conv layer), take its activations
 * A [B,h,w,K] and, for gradient methods, G = dy^c/dA for each image's own target class c from ONE
 * batched backward pass: tf.grad of sum_b targetScores(logitsWithTap(x, tap, a), target) with
 * respect to a, at a = A. The images of a batch do not interact (no batch statistics at
 * inference), so the gradient of the batch sum is each image's own gradient. y^c is the
 * pre-softmax logit, as in the Grad-CAM paper (Selvaraju et al. 2017, eq. 1) and pytorch-grad-cam's
 * `ClassifierOutputTarget`.
 *
 * A variant supplies only its weighting: `weigh(A, G)` returns channel weights [B,1,1,K] (Grad-CAM,
 * Grad-CAM++) or elementwise weights [B,h,w,K] (Layer-CAM); the pipeline then computes the raw map
 * ReLU(sum_k W_k * A_k) [B,h,w] (`camRawMaps`) and `finishMaps` upsamples it (bilinear, half-pixel)
 * to the input size and min-max normalizes each image to [0,1].
 */
import { GazeError, didYouMean, tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import { z } from 'zod';
import type { Explainer, ExplainOptions } from '../explainer.js';
import { checkExplainInputs, finishMaps, targetScores } from '../maps.js';

/** The config key every CAM variant has: which tap to explain (default: the classifier's camTap). */
export const CamLayerKeys = {
  layer: z.string().min(1).optional(),
};

/**
 * The tap a CAM explains: `layer` when given (a GazeError at `<where>.layer` listing the taps when
 * the classifier has no such tap), else the classifier's camTap (its last conv layer), else its deepest tap.
 */
export function resolveCamLayer(classifier: Classifier, layer: string | undefined, where: string, method: string): string {
  if (classifier.taps.length === 0) {
    throw new GazeError(`${method} needs a feature tap, but this ${classifier.type} classifier has none`, { where, hint: 'use a backbone with feature taps (vgg-small, resnet-small) or a perturbation method (rise, occlusion)' });
  }
  if (layer === undefined) return classifier.camTap ?? classifier.taps[classifier.taps.length - 1];
  if (!classifier.taps.includes(layer)) {
    const guess = didYouMean(layer, classifier.taps);
    throw new GazeError(`${method}: the classifier has no tap '${layer}'${guess ? ` (did you mean '${guess}'?)` : ''}`, {
      where: `${where}.layer`,
      hint: `use one of its taps: ${classifier.taps.join(', ')}`,
    });
  }
  return layer;
}

/**
 * Activations of `tap` and the gradient of each image's target logit with respect to them, from
 * one forward and one batched backward pass.
 */
// x: [B,H,W,C] in [0,1], target: [B] int32 -> activations, gradients: [B,h,w,K]
export function tapGradients(classifier: Classifier, x: tf.Tensor4D, target: tf.Tensor1D, tap: string): { activations: tf.Tensor4D; gradients: tf.Tensor4D } {
  return tf.tidy(() => {
    const activations = classifier.features(x, [tap])[tap];
    const scoreSum = (a: tf.Tensor) => tf.sum(targetScores(classifier.logitsWithTap(x, tap, a as tf.Tensor4D), target));
    const gradients = tf.grad(scoreSum)(activations) as tf.Tensor4D;
    return { activations, gradients };
  });
}

/** ReLU(sum_k W_k A_k): W broadcasts against A ([B,1,1,K] channel or [B,h,w,K] elementwise weights). */
// activations: [B,h,w,K], weights: [B,1,1,K] | [B,h,w,K] -> [B,h,w]
export function weightedActivationMap(activations: tf.Tensor4D, weights: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => tf.relu(tf.sum(tf.mul(weights, activations), 3)) as tf.Tensor3D);
}

/** A gradient-CAM variant's one formula: channel or elementwise weights from A and G = dy^c/dA. */
// activations, gradients: [B,h,w,K] -> [B,1,1,K] | [B,h,w,K]
export type CamWeighting = (activations: tf.Tensor4D, gradients: tf.Tensor4D) => tf.Tensor4D;

/** The pre-upsampling map of a gradient CAM: ReLU(sum_k weigh(A, G)_k A_k) at the tap's resolution. */
// x: [B,H,W,C] in [0,1], target: [B] int32 -> [B,h,w]
export function camRawMaps(classifier: Classifier, x: tf.Tensor4D, target: tf.Tensor1D, tap: string, weigh: CamWeighting): tf.Tensor3D {
  return tf.tidy(() => {
    const { activations, gradients } = tapGradients(classifier, x, target, tap);
    return weightedActivationMap(activations, weigh(activations, gradients));
  });
}

/** An Explainer from a gradient-CAM weighting: raw maps -> finishMaps. */
export function gradientCamExplainer(method: string, weigh: CamWeighting, config: { layer?: string }, ctx: { classifier: Classifier; name: string; where: string }): Explainer {
  const { classifier } = ctx;
  const tap = resolveCamLayer(classifier, config.layer, ctx.where, method);
  const [h, w] = classifier.inputShape;
  return {
    name: ctx.name,
    async explain(x: tf.Tensor4D, target: tf.Tensor1D, options: ExplainOptions = {}): Promise<tf.Tensor3D> {
      checkExplainInputs(classifier, x, target, method);
      return tf.tidy(() => finishMaps(camRawMaps(classifier, x, target, tap, weigh), [h, w], options.normalize));
    },
  };
}
