import { Rng, tf } from '@gaze/engine';
import { CLASSIFIER_FORMAT_VERSION, LayersClassifier } from './layers-classifier.js';

/**
 * Weight initializers whose draws are a function of the run seed: every layer gets its own op seed
 * from one stream, so the same seed gives the same weights and adding a layer at the end changes
 * no earlier one. (tfjs initializers take a seed; unseeded ones would read Math.random.)
 */
type Initializer = ReturnType<typeof tf.initializers.heNormal>;

export interface SeededInit {
  /** He (Kaiming) normal for conv kernels before a ReLU (He et al. 2015). */
  conv(): Initializer;
  /** Glorot uniform for the dense classifier head (the Keras default). */
  dense(): Initializer;
}

export function seededInit(seed: number, type: string): SeededInit {
  const stream = new Rng(seed, `${type}:init`);
  return {
    conv: () => tf.initializers.heNormal({ seed: stream.opSeed() }),
    dense: () => tf.initializers.glorotUniform({ seed: stream.opSeed() }),
  };
}

/** Batch-norm settings shared by the small backbones: PyTorch's momentum 0.1 (tfjs: 0.9) and epsilon. */
export const BATCH_NORM = { momentum: 0.9, epsilon: 1e-5 } as const;

export function apply(layer: tf.layers.Layer, input: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor {
  return layer.apply(input) as tf.SymbolicTensor;
}

/**
 * The shared tail of the built backbones: global average pooling, optional dropout and a dense
 * layer to the class scores, wrapped as a Classifier whose preprocessing is `(x - mean) / std`.
 */
export function gapDenseClassifier(args: {
  type: string;
  modelName: string;
  input: tf.SymbolicTensor;
  features: tf.SymbolicTensor;
  taps: { name: string; layer: string }[];
  camTap?: string;
  numClasses: number;
  init: SeededInit;
  dropout?: number;
  config: { mean: number[]; std: number[] };
}): LayersClassifier {
  let x = apply(tf.layers.globalAveragePooling2d({ name: 'gap' }), args.features);
  if (args.dropout && args.dropout > 0) x = apply(tf.layers.dropout({ name: 'dropout', rate: args.dropout }), x);
  const logits = apply(tf.layers.dense({ name: 'logits', units: args.numClasses, kernelInitializer: args.init.dense() }), x);
  const model = tf.model({ name: args.modelName, inputs: args.input, outputs: logits });
  const [, h, w, c] = args.input.shape as number[];
  return new LayersClassifier(model, {
    version: CLASSIFIER_FORMAT_VERSION,
    type: args.type,
    inputShape: [h, w, c],
    numClasses: args.numClasses,
    taps: args.taps,
    ...(args.camTap === undefined ? {} : { camTap: args.camTap }),
    logits: { layer: 'logits', from: 'output' },
    preprocess: { scale: 1, mean: args.config.mean, std: args.config.std, channelOrder: 'rgb' },
    config: args.config,
  });
}
