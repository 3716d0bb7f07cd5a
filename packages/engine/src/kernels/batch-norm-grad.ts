import { tf } from '../tf.js';

/**
 * The gradient of FusedBatchNorm (y = (x - mean) * rsqrt(variance + eps) * scale + offset) with
 * respect to all five inputs, by broadcasting. Upstream tiles rsqrt(variance) to x's full shape
 * before multiplying, and multiplies dy by scale and rsqrt in separate full-size passes: on wasm
 * its Tile alone took a third of a resnet-small training step. Here every per-channel factor is
 * folded first, so the full-size work is one multiply for dx, one subtract-multiply-sum for the
 * variance and scale terms, and one sum of dy shared by mean and offset.
 *
 * mean/variance/scale/offset may have x's rank (broadcast shapes) or rank 1 (the channel axis,
 * the last); the reductions run over the axes where they broadcast.
 */
export const batchNormGradConfig: tf.GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const grad = dy as tf.Tensor;
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved;
    const axes = tf.broadcast_util.getReductionAxes(mean.shape, x.shape);
    // dy summed over the broadcast axes, in mean's shape
    const reduce = (t: tf.Tensor) => tf.reshape(axes.length > 0 ? tf.sum(t, axes) : t, mean.shape);
    const inverseStd = tf.rsqrt(tf.add(variance, varianceEpsilon)); // per channel
    const gain = scale == null ? inverseStd : tf.mul(inverseStd, scale); // d y / d x, per channel
    // Shared by two derivatives each; computed here because tfjs runs every derivative closure in
    // a scope of its own, which would free a tensor cached by the first before the second ran.
    const dySum = reduce(grad);
    const dyCenteredSum = reduce(tf.mul(grad, tf.sub(x, mean)));
    return {
      x: () => tf.mul(grad, gain),
      mean: () => tf.neg(tf.mul(dySum, gain)),
      variance: () => tf.mul(tf.mul(dyCenteredSum, tf.mul(gain, tf.square(inverseStd))), -0.5),
      scale: () => tf.mul(dyCenteredSum, inverseStd),
      offset: () => tf.clone(dySum),
    };
  },
};
