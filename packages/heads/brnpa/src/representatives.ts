import { tf } from '@gaze/engine';

/** What BR-NPA's attention step gives for a batch of feature maps. */
export interface PartAttention {
  /** [B,K,N] attention maps over the N = h*w positions, each summing to 1; part 1 first. */
  attention: tf.Tensor3D;
  /** [B,K,C] the part vectors: refined representatives (or the raw ones without refinement). */
  vectors: tf.Tensor3D;
  /** [B,N] feature norms (+1e-5). */
  norms: tf.Tensor2D;
  /** [B,K] the position each representative was taken from. */
  picked: tf.Tensor2D;
}

/**
 * BR-NPA's non-parametric attention (Gomez et al., Pattern Recognition 2022; methods.md 2.2) on
 * features [B,h,w,C]: K times, take the not yet explained position with the largest selection
 * score (at first the feature norm) as a representative v, attend to every position by its cosine
 * similarity to v (normalised to sum 1), refine v into the attention-weighted mean of the features,
 * and damp the scores of the positions similar to v (s <- (1 - cos) s) so the next part differs.
 * No learnable parameter; gradients reach the features through the similarities and the means.
 */
export function representativeAttention(features: tf.Tensor4D, options: { parts: number; refine: boolean }): PartAttention {
  return tf.tidy(() => {
    const [b, h, w, c] = features.shape;
    const n = h * w;
    const f = tf.reshape(features, [b, n, c]) as tf.Tensor3D;
    // sqrt(|f|^2 + 1e-12) rather than |f|: the same value, but a finite gradient at the all-zero positions ReLU features have.
    const norms = tf.add(tf.sqrt(tf.add(tf.sum(tf.square(f), 2), 1e-12)), 1e-5) as tf.Tensor2D;
    let score: tf.Tensor2D = norms;
    const maps: tf.Tensor2D[] = [];
    const vectors: tf.Tensor2D[] = [];
    const picked: tf.Tensor1D[] = [];
    for (let k = 0; k < options.parts; k++) {
      const position = tf.argMax(score, 1) as tf.Tensor1D;
      const onehot = tf.oneHot(position, n).toFloat() as tf.Tensor2D; // [B,N]
      const v = tf.squeeze(tf.matMul(tf.expandDims(onehot, 1), f), [1]) as tf.Tensor2D; // [B,C]
      const vNorm = tf.sum(tf.mul(onehot, norms), 1, true); // [B,1]
      const dots = tf.squeeze(tf.matMul(f, tf.expandDims(v, 2)), [2]); // [B,N]
      const cosine = tf.div(dots, tf.mul(norms, vNorm)) as tf.Tensor2D;
      // (+1e-12: an image whose features are all zero has no similarity to normalise.)
      const attention = tf.div(cosine, tf.add(tf.sum(cosine, 1, true), 1e-12)) as tf.Tensor2D;
      maps.push(attention);
      vectors.push(options.refine ? (tf.squeeze(tf.matMul(tf.expandDims(attention, 1), f), [1]) as tf.Tensor2D) : v);
      picked.push(position);
      score = tf.mul(tf.sub(1, cosine), score) as tf.Tensor2D;
    }
    return {
      attention: tf.stack(maps, 1) as tf.Tensor3D,
      vectors: tf.stack(vectors, 1) as tf.Tensor3D,
      norms,
      picked: tf.stack(picked, 1) as tf.Tensor2D,
    };
  });
}

/** The explanation maps [B,K,h,w]: each part's attention times the feature norm (as the reference README says to). */
export function partMaps(part: PartAttention, h: number, w: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, k] = part.attention.shape;
    return tf.reshape(tf.mul(part.attention, tf.expandDims(part.norms, 1)), [b, k, h, w]) as tf.Tensor4D;
  });
}
