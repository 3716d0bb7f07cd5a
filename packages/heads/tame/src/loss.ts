import { tf } from '@gaze/engine';
import { crossEntropy } from '@gaze/models';
import type { TameConfig } from './config.js';

/** The area-term offset: keeps the gradient of x^power finite at 0 (the reference's 0.0005). */
export const AREA_EPSILON = 5e-4;

export interface TameLossParts {
  total: tf.Scalar;
  ce: tf.Scalar;
  area: tf.Scalar;
  tv: tf.Scalar;
}

/**
 * Total variation of masks [B,S,S] as the reference computes it: squared differences between
 * vertical and horizontal neighbours, plus `borderPenalty` times the squares of the first and
 * last rows and columns, summed over the batch and divided by 2B.
 */
export function totalVariation(masks: tf.Tensor3D, borderPenalty: number): tf.Scalar {
  return tf.tidy(() => {
    const [b, h, w] = masks.shape;
    const dh = tf.sub(masks.slice([0, 1, 0], [b, h - 1, w]), masks.slice([0, 0, 0], [b, h - 1, w]));
    const dw = tf.sub(masks.slice([0, 0, 1], [b, h, w - 1]), masks.slice([0, 0, 0], [b, h, w - 1]));
    const edges = [masks.slice([0, 0, 0], [b, 1, w]), masks.slice([0, h - 1, 0], [b, 1, w]), masks.slice([0, 0, 0], [b, h, 1]), masks.slice([0, 0, w - 1], [b, h, 1])];
    const border = tf.addN(edges.map((e) => tf.sum(tf.square(e))));
    const sum = tf.addN([tf.sum(tf.square(dh)), tf.sum(tf.square(dw)), tf.mul(border, borderPenalty)]);
    return tf.div(sum, 2 * b) as tf.Scalar;
  });
}

/**
 * TAME's objective on the target class's sigmoid masks [B,S,S] and the classifier's logits of
 * the masked images: ce * CE + area * mean((A + 5e-4)^power) + tv * TV(A).
 */
export function tameLoss(masks: tf.Tensor3D, maskedLogits: tf.Tensor2D, target: tf.Tensor1D, coefficients: TameConfig['loss']): TameLossParts {
  const ce = crossEntropy(maskedLogits, target);
  const area = tf.tidy(() => tf.mean(tf.pow(tf.add(masks, AREA_EPSILON), coefficients.areaPower)) as tf.Scalar);
  const tv = totalVariation(masks, coefficients.borderPenalty);
  const total = tf.tidy(() => tf.addN([tf.mul(ce, coefficients.ce), tf.mul(area, coefficients.area), tf.mul(tv, coefficients.tv)]) as tf.Scalar);
  return { total, ce, area, tv };
}
