import { normalizePerSample, tf } from '@gaze/engine';
import type { Explainer } from '@gaze/explainers';
import type { Classifier } from '@gaze/models';

/**
 * An edge detector that ignores the model: the gradient magnitude of the grey image
 * (forward differences, zero at the last row/column), min-max normalized per image.
 */
export const edgeExplainer: Explainer = {
  name: 'edges',
  // x: [B,H,W,C] -> [B,H,W] in [0,1]
  explain: async (x) =>
    tf.tidy(() => {
      const [, h, w] = x.shape;
      const grey = tf.mean(x, 3) as tf.Tensor3D;
      const dx = tf.pad(tf.sub(grey.slice([0, 0, 1], [-1, -1, w - 1]), grey.slice([0, 0, 0], [-1, -1, w - 1])), [[0, 0], [0, 0], [0, 1]]);
      const dy = tf.pad(tf.sub(grey.slice([0, 1, 0], [-1, h - 1, -1]), grey.slice([0, 0, 0], [-1, h - 1, -1])), [[0, 0], [0, 1], [0, 0]]);
      return normalizePerSample(tf.sqrt(tf.add(tf.square(dx), tf.square(dy)))) as tf.Tensor3D;
    }),
};

/** Vanilla gradient: sum over channels of |d logit_target / d x|, min-max normalized per image. */
export function gradientExplainer(classifier: Classifier): Explainer {
  return {
    name: 'gradient',
    explain: async (x, target) =>
      tf.tidy(() => {
        const g = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(classifier.logits(input as tf.Tensor4D), tf.oneHot(target, classifier.numClasses))))(x);
        return normalizePerSample(tf.sum(tf.abs(g), 3)) as tf.Tensor3D;
      }),
  };
}

/** Every weight's values, for bit-exact comparison. */
export function weightBytes(classifier: Classifier): Buffer[] {
  return classifier.weights.map((v) => Buffer.from((v.dataSync() as Float32Array).slice().buffer));
}
