import { GazeError, tf } from '@gaze/engine';
import type { Classifier, ForwardOptions } from '../../../src/classifier.js';

/**
 * A tiny test classifier: conv 3x3 -> batch norm -> ReLU -> global average pool -> dense, built from
 * tf.layers applied eagerly so `training` reaches the batch norm (which then updates its moving
 * statistics: the non-trainable weights a checkpoint must hold). Seeded initializers: the same
 * seed gives the same weights.
 */
export function tinyClassifier(options: { inputShape: [number, number, number]; numClasses: number; seed: number; filters?: number }): Classifier {
  const { inputShape, numClasses, seed, filters = 6 } = options;
  const conv = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed }) });
  const bn = tf.layers.batchNormalization({ momentum: 0.9 });
  const relu = tf.layers.reLU();
  const gap = tf.layers.globalAveragePooling2d({});
  const dense = tf.layers.dense({ units: numClasses, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) });
  const layers = [conv, bn, relu, gap, dense];

  // x: [B,H,W,C] in [0,1] -> conv features [B,H,W,filters] and logits [B,K]
  const run = (x: tf.Tensor4D, o: ForwardOptions) => {
    const kwargs = { training: o.training ?? false };
    const normalized = tf.div(tf.sub(x, 0.5), 0.25);
    const c = relu.apply(bn.apply(conv.apply(normalized, kwargs), kwargs), kwargs) as tf.Tensor4D;
    const logits = dense.apply(gap.apply(c, kwargs), kwargs) as tf.Tensor2D;
    return { conv: c, logits };
  };
  tf.tidy(() => run(tf.zeros([1, ...inputShape]) as tf.Tensor4D, {}));
  const variables = (which: 'weights' | 'trainableWeights') => layers.flatMap((l) => l[which].map((w) => w.read() as tf.Variable));
  const taps = ['conv'];
  const check = (names: string[]) => {
    for (const n of names) if (!taps.includes(n)) throw new GazeError(`unknown tap ${n}; known: ${taps.join(', ')}`);
  };
  const trainableWeights = variables('trainableWeights');
  return {
    type: 'tiny',
    inputShape,
    numClasses,
    taps,
    logits: (x, o = {}) => tf.tidy(() => run(x, o).logits),
    features: (x, names, o = {}) => {
      check(names);
      return tf.tidy(() => ({ conv: run(x, o).conv }));
    },
    forward: (x, names, o = {}) => {
      check(names);
      return tf.tidy(() => {
        const r = run(x, o);
        const features: Record<string, tf.Tensor4D> = names.length ? { conv: r.conv } : {};
        return { logits: r.logits, features };
      });
    },
    logitsWithTap: (x, tap, a, o = {}) => {
      check([tap]);
      const kwargs = { training: o.training ?? false };
      return tf.tidy(() => dense.apply(gap.apply(a, kwargs), kwargs) as tf.Tensor2D);
    },
    trainableWeights,
    weights: variables('weights'),
    save: async () => {
      throw new Error('tinyClassifier cannot be saved');
    },
    parameterCount: trainableWeights.reduce((n, w) => n + w.size, 0),
    dispose: () => layers.forEach((l) => l.dispose()),
  };
}
