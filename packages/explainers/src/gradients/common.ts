/**
 * What the input-gradient methods (gradient, gradient-x-input, smoothgrad, integrated-gradients)
 * share: the differentiated score y^c, the batched input gradient dy^c/dx, the channel
 * reductions that turn [B,H,W,C] attributions into [B,H,W] maps, and the chunking of
 * (image x sample) rows into passes of bounded size.
 */
import { tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import { z } from 'zod';
import { targetScores } from '../maps.js';

/**
 * Which score is differentiated: the target's pre-softmax logit (Simonyan et al. 2014 "Deep
 * Inside Convolutional Networks", sec. 3: "the class score S_c ... before softmax"; captum's
 * attribute(target=c) on a logits model) or its softmax probability.
 */
export const GradientScore = z.enum(['logit', 'probability']);
export type GradientScore = z.infer<typeof GradientScore>;

/**
 * How a signed attribution summed over channels becomes a map: `absolute` = |sum_c a|
 * (captum `visualize_image_attr(sign='absolute_value')`, its default), `positive` = max(0, sum_c a)
 * (captum `sign='positive'`: only evidence for the class).
 */
export const AttributionSign = z.enum(['absolute', 'positive']);
export type AttributionSign = z.infer<typeof AttributionSign>;

/**
 * Rows (image copies) per forward/backward pass for the methods that evaluate many copies of each
 * image (captum's `internal_batch_size`). A chunk holds max(1, floor(rows / copies)) images, all
 * copies of an image in the same pass.
 */
export const GRADIENT_PASS_ROWS = 512;

/** Each image's target score: logit or softmax probability. */
// x: [B,H,W,C] in [0,1], target: [B] int32 -> [B]
export function scoreOf(classifier: Classifier, x: tf.Tensor4D, target: tf.Tensor1D, score: GradientScore): tf.Tensor1D {
  return tf.tidy(() => {
    const logits = classifier.logits(x);
    return targetScores(score === 'probability' ? (tf.softmax(logits) as tf.Tensor2D) : logits, target);
  });
}

/**
 * dy_b/dx_b for every image in one backward pass (images are independent in inference mode, so
 * the gradient of sum_b y_b is each image's own gradient).
 */
// x: [B,H,W,C] in [0,1], target: [B] int32 -> [B,H,W,C]
export function inputGradients(classifier: Classifier, x: tf.Tensor4D, target: tf.Tensor1D, score: GradientScore): tf.Tensor4D {
  return tf.tidy(() => tf.grad((input: tf.Tensor) => tf.sum(scoreOf(classifier, input as tf.Tensor4D, target, score)))(x) as tf.Tensor4D);
}

/** Simonyan et al.: the map is max_c |g|. */
// g: [B,H,W,C] -> [B,H,W]
export function maxAbsOverChannels(g: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => tf.max(tf.abs(g), 3) as tf.Tensor3D);
}

/** sum_c a, then |.| or max(0, .) (captum's visualization convention). */
// a: [B,H,W,C] -> [B,H,W]
export function signedChannelSum(a: tf.Tensor4D, sign: AttributionSign): tf.Tensor3D {
  return tf.tidy(() => {
    const s = tf.sum(a, 3);
    return (sign === 'absolute' ? tf.abs(s) : tf.relu(s)) as tf.Tensor3D;
  });
}

/** Images per pass when each image is evaluated `copies` times and a pass holds about `rows` rows. */
export function imagesPerPass(copies: number, rows: number): number {
  return Math.max(1, Math.floor(rows / copies));
}

/**
 * Runs `fn` on consecutive image chunks of x (and target) and concatenates each output along the
 * batch axis. `fn` runs inside tf.tidy; its outputs are kept until concatenated.
 */
export function mapChunks<T extends Record<string, tf.Tensor>>(
  x: tf.Tensor4D,
  target: tf.Tensor1D,
  chunk: number,
  fn: (x: tf.Tensor4D, target: tf.Tensor1D, start: number) => T,
): T {
  const b = x.shape[0];
  if (chunk >= b) return tf.tidy(() => fn(x, target, 0));
  const parts: T[] = [];
  try {
    for (let start = 0; start < b; start += chunk) {
      const size = Math.min(chunk, b - start);
      parts.push(
        tf.tidy(() => {
          const xs = tf.slice(x, [start, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D;
          const ts = tf.slice(target, [start], [size]) as tf.Tensor1D;
          return fn(xs, ts, start);
        }),
      );
    }
    return tf.tidy(() => {
      const out = {} as Record<string, tf.Tensor>;
      for (const key of Object.keys(parts[0])) out[key] = tf.concat(parts.map((p) => p[key]), 0);
      return out as T;
    });
  } finally {
    for (const p of parts) tf.dispose(Object.values(p));
  }
}

/** Each of the c images repeated n times, image-major: [c,...] -> [c*n,...]. */
export function repeatRows<T extends tf.Tensor>(t: T, n: number): T {
  return tf.tidy(() => {
    const [c, ...rest] = t.shape;
    const expanded = tf.expandDims(t, 1);
    return tf.reshape(tf.tile(expanded, [1, n, ...rest.map(() => 1)]), [c * n, ...rest]) as T;
  });
}
