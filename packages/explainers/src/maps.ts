import { GazeError, normalizePerSample, resize, tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';

/**
 * The last step every method shares: a raw map [B,h,w] is upsampled (bilinear, half-pixel
 * centres) to the input's [H,W] and min-max normalized per image to [0,1]; a constant map
 * becomes all zeros. With `normalize` false the upsampled raw map is returned as is.
 */
// raw: [B,h,w] -> [B,H,W] in [0,1] (or raw units)
export function finishMaps(raw: tf.Tensor3D, size: readonly [number, number], normalize = true): tf.Tensor3D {
  return tf.tidy(() => (normalize ? normalizePerSample(resize(raw, size)) : resize(raw, size)));
}

/** One-hot rows for the targets: target [B] int32 -> [B,K] float32 (unlike tf.oneHot, also for K = 1). */
export function targetOneHot(target: tf.Tensor1D, numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.equal(tf.expandDims(target, 1), tf.range(0, numClasses, 1, 'int32')), 'float32') as tf.Tensor2D);
}

/** Each image's score for its own target class: logits [B,K], target [B] int32 -> [B]. */
export function targetScores(scores: tf.Tensor2D, target: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(scores, targetOneHot(target, scores.shape[1])), 1) as tf.Tensor1D);
}

/** Throws a GazeError unless x is [B,H,W,C] at the classifier's size and target is [B] int32 in range. */
export function checkExplainInputs(classifier: Classifier, x: tf.Tensor, target: tf.Tensor, method: string): void {
  const [h, w, c] = classifier.inputShape;
  if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
    throw new GazeError(`${method}: images must be [B,${h},${w},${c}], got [${x.shape.join(',')}]`);
  }
  if (target.rank !== 1 || target.shape[0] !== x.shape[0] || target.dtype !== 'int32') {
    throw new GazeError(`${method}: target must be [${x.shape[0]}] int32 class indices, got [${target.shape.join(',')}] ${target.dtype}`);
  }
}
