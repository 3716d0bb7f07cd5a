import { tf } from '../tf.js';

/**
 * Min-max normalizes each sample (everything after the batch axis) to [0,1]. A constant sample
 * (max = min, e.g. a map with no evidence) becomes all zeros rather than NaN.
 */
// x: [B,...] -> [B,...] in [0,1]
export function normalizePerSample<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
    const min = tf.min(x, axes, true);
    const range = tf.sub(tf.max(x, axes, true), min);
    const scaled = tf.div(tf.sub(x, min), tf.where(tf.greater(range, 0), range, tf.onesLike(range)));
    // Zero where the sample is constant, by a broadcast multiply (broadcastTo + where is a Tile on wasm).
    return tf.mul(scaled, tf.cast(tf.greater(range, 0), 'float32')) as T;
  });
}
