import { tf } from '@gaze/engine';
import { LayersClassifier } from '@gaze/models';

// Shared comparison helpers, re-exported for this folder's tests.
export { values, maxDiff } from '@gaze/engine/testing';

/**
 * A tiny fixed-weight classifier on [h,w,c] inputs: flatten -> (optional dense `hidden` with ReLU)
 * -> dense `logits`. Kernels are [in, out] row-major over the flattened (h, w, c) input.
 * The classifier normalizes (x - mean) / std before the first layer.
 */
export function denseNet(
  shape: [number, number, number],
  logits: { kernel: number[][]; bias: number[] },
  options: { hidden?: { kernel: number[][]; bias: number[] }; mean?: number[]; std?: number[] } = {},
): LayersClassifier {
  const input = tf.input({ shape });
  let y = tf.layers.flatten({ name: 'flatten' }).apply(input) as tf.SymbolicTensor;
  const weights: tf.Tensor[] = [];
  if (options.hidden) {
    y = tf.layers.dense({ name: 'hidden', units: options.hidden.bias.length, activation: 'relu' }).apply(y) as tf.SymbolicTensor;
    weights.push(tf.tensor2d(options.hidden.kernel), tf.tensor1d(options.hidden.bias));
  }
  const out = tf.layers.dense({ name: 'logits', units: logits.bias.length }).apply(y) as tf.SymbolicTensor;
  weights.push(tf.tensor2d(logits.kernel), tf.tensor1d(logits.bias));
  const model = tf.model({ inputs: input, outputs: out });
  model.setWeights(weights);
  tf.dispose(weights);
  return new LayersClassifier(model, {
    version: 1,
    type: 'test-net',
    inputShape: shape,
    numClasses: logits.bias.length,
    taps: [],
    logits: { layer: 'logits', from: 'output' },
    preprocess: { scale: 1, mean: options.mean ?? [0], std: options.std ?? [1], channelOrder: 'rgb' },
  });
}

/** Columns -> a [rows, cols] kernel: column k holds class k's weights. */
export function columns(...cols: number[][]): number[][] {
  return cols[0].map((_, i) => cols.map((c) => c[i]));
}

/** Standard normal CDF (Abramowitz-Stegun 26.2.17, |error| < 7.5e-8). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(z));
  const d = 0.3989422804014327 * Math.exp((-z * z) / 2);
  const p = d * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return z > 0 ? 1 - p : p;
}
