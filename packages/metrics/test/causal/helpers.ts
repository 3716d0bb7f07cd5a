import { tf } from '@gaze/engine';
import type { Batch } from '@gaze/data';
import { LayersClassifier } from '@gaze/models';
import type { EvaluationContext } from '../../src/index.js';
import { info, unusedExplainer } from '../localization/helpers.js';

/**
 * A classifier on [H,W,C] images whose logits are linear in the pixels: z_k = sum_p weights[k][p] * x_p
 * (p over the flattened HWC image) + bias[k]. With two classes and z1 = 0, softmax(z)[0] = sigmoid(z0).
 */
export function linearClassifier(shape: [number, number, number], weights: number[][], bias?: number[]): LayersClassifier {
  const [h, w, c] = shape;
  const k = weights.length;
  const input = tf.input({ shape });
  const flat = tf.layers.flatten({ name: 'flat' }).apply(input) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ name: 'logits', units: k });
  const logits = dense.apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  const kernel = new Float32Array(h * w * c * k);
  for (let p = 0; p < h * w * c; p++) for (let j = 0; j < k; j++) kernel[p * k + j] = weights[j][p];
  tf.tidy(() => dense.setWeights([tf.tensor2d(kernel, [h * w * c, k]), tf.tensor1d(bias ?? new Array(k).fill(0))]));
  return new LayersClassifier(model, {
    version: 1,
    type: 'linear-test',
    inputShape: shape,
    numClasses: k,
    taps: [{ name: 'flat', layer: 'flat' }],
    logits: { layer: 'logits', from: 'output' },
    preprocess: { scale: 1, mean: new Array(c).fill(0), std: new Array(c).fill(1), channelOrder: 'rgb' },
  });
}

/** A context over the given images (flat HWC each), maps (flat HW each), targets and labels. */
export function linearContext(args: {
  classifier: LayersClassifier;
  shape: [number, number, number];
  images: number[][];
  maps: number[][];
  targets: number[];
  labels?: number[];
  seed?: number;
}): EvaluationContext {
  const [h, w, c] = args.shape;
  const n = args.images.length;
  const batch: Batch = {
    images: tf.tensor4d(args.images.flat(), [n, h, w, c]),
    labels: tf.tensor1d(args.labels ?? args.targets, 'int32'),
    ids: args.images.map((_, i) => `img${i}`),
  };
  return {
    classifier: args.classifier,
    explainer: unusedExplainer,
    batch,
    maps: tf.tensor3d(args.maps.flat(), [n, h, w]),
    targets: tf.tensor1d(args.targets, 'int32'),
    info: info(args.classifier.numClasses, [h, w]),
    seed: args.seed ?? 0,
  };
}

export function disposeLinearContext(ctx: EvaluationContext): void {
  tf.dispose([ctx.batch.images, ctx.batch.labels, ctx.maps, ctx.targets]);
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
