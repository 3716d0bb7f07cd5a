import { tf } from '@gaze/engine';
import { LayersClassifier, createClassifier, type Classifier } from '@gaze/models';

// Shared comparison helpers, re-exported for this folder's tests.
export { values, maxDiff, gazeError, pearson as correlation } from '@gaze/engine/testing';

/**
 * vgg-small, one block of two channels on 4x4x1 inputs, identity normalization, 4 classes:
 *   conv 3x3 (centre tap only): ch0 = relu(x), ch1 = relu(1 - x)  -> 2x2 max pool -> tap block1
 *   A0 = quadrant max of x, A1 = 1 - quadrant min of x (x in [0,1])
 *   GAP -> dense, kernel rows = channels, columns = classes:
 *     class 0: [2, -1], class 1: [-1, 1], class 2: [1, 2], class 3: [0, 1]; biases 0.
 * So dy^c/dA_ijk = W[k, c] / 4 everywhere (GAP over 2x2 positions).
 */
export async function tinyVgg(): Promise<Classifier> {
  const c = (await createClassifier({ type: 'vgg-small', channels: [2], mean: [0], std: [1] }, { inputShape: [4, 4, 1], numClasses: 4, seed: 1, baseDir: process.cwd(), where: 'backbone' })) as LayersClassifier;
  const [kernel, bias, dense, denseBias] = c.weights;
  const k = new Float32Array(18);
  k[4 * 2 + 0] = 1; // centre tap (4 of 9), channel 0
  k[4 * 2 + 1] = -1; // centre tap, channel 1
  kernel.assign(tf.tensor4d(k, [3, 3, 1, 2]));
  bias.assign(tf.tensor1d([0, 1]));
  dense.assign(tf.tensor2d([
    [2, -1, 1, 0],
    [-1, 1, 2, 1],
  ]));
  denseBias.assign(tf.zeros([4]));
  return c;
}

/**
 * The 4x4 image for tinyVgg; quadrants (2x2 each):
 *   TL {.1,.5,.2,.4}: max .5, min .1    TR {.9,.3,.6,.8}: max .9, min .3
 *   BL {1,0,.3,.7}:   max 1,  min 0     BR {.25,.5,.75,.5}: max .75, min .25
 * -> A0 = [[.5,.9],[1,.75]], A1 = [[.9,.7],[1,.75]].
 */
export function tinyImage(): tf.Tensor4D {
  // prettier-ignore
  return tf.tensor4d([
    0.1, 0.5, 0.9, 0.3,
    0.2, 0.4, 0.6, 0.8,
    1.0, 0.0, 0.25, 0.5,
    0.3, 0.7, 0.75, 0.5,
  ], [1, 4, 4, 1]);
}

/** A LayersClassifier over a hand-built model with identity preprocessing. */
export function wrap(model: tf.LayersModel, inputShape: [number, number, number], numClasses: number, taps: { name: string; layer: string }[]): LayersClassifier {
  return new LayersClassifier(model, {
    version: 1,
    type: 'test-net',
    inputShape,
    numClasses,
    taps,
    logits: { layer: 'logits', from: 'output' },
    preprocess: { scale: 1, mean: [0], std: [1], channelOrder: 'rgb' },
  });
}

/**
 * For Score-CAM: 2x2x1 input -> 1x1 conv 'feat' (linear, 3 channels: x, 1 - x, 0.5 constant)
 * -> GAP -> dense 'logits' with kernel rows [3,0], [0,3], [0,0] (no bias).
 * With m = mean(z) of an input z: logits(z) = [3 m, 3 (1 - m)].
 */
export function scoreCamNet(): LayersClassifier {
  const input = tf.input({ shape: [2, 2, 1] });
  const feat = tf.layers.conv2d({ name: 'feat', filters: 3, kernelSize: 1, weights: [tf.tensor4d([1, -1, 0], [1, 1, 1, 3]), tf.tensor1d([0, 1, 0.5])] }).apply(input) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({}).apply(feat) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ name: 'logits', units: 2, weights: [tf.tensor2d([[3, 0], [0, 3], [0, 0]]), tf.zeros([2])] }).apply(gap) as tf.SymbolicTensor;
  return wrap(tf.model({ inputs: input, outputs: logits }), [2, 2, 1], 2, [{ name: 'feat', layer: 'feat' }]);
}

/**
 * A linear net on [H,W,1]: logits = [gain * (sum_ij w_ij z_ij) + bias0, 0] (flatten -> dense), no
 * taps. `w` is row-major [H*W].
 */
export function linearNet(H: number, W: number, w: number[], gain = 1, bias0 = 0): LayersClassifier {
  const input = tf.input({ shape: [H, W, 1] });
  const flat = tf.layers.flatten({}).apply(input) as tf.SymbolicTensor;
  const kernel = new Float32Array(H * W * 2);
  w.forEach((v, i) => (kernel[2 * i] = gain * v));
  const logits = tf.layers.dense({ name: 'logits', units: 2, weights: [tf.tensor2d(kernel, [H * W, 2]), tf.tensor1d([bias0, 0])] }).apply(flat) as tf.SymbolicTensor;
  return wrap(tf.model({ inputs: input, outputs: logits }), [H, W, 1], 2, []);
}
