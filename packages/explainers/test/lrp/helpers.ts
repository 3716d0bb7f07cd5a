import { tf } from '@gaze/engine';
import { LayersClassifier } from '@gaze/models';

// Shared comparison helpers, re-exported for this folder's tests.
export { values, maxDiff, pearson, deterministicImages as images } from '@gaze/engine/testing';

/** Wraps a tf.model whose last layer is named `logits` as a classifier normalizing (x - mean) / std. */
export function wrap(model: tf.LayersModel, numClasses: number, mean = [0], std = [1]): LayersClassifier {
  const [, h, w, c] = model.inputs[0].shape as number[];
  return new LayersClassifier(model, {
    version: 1,
    type: 'test-net',
    inputShape: [h, w, c],
    numClasses,
    taps: [],
    logits: { layer: 'logits', from: 'output' },
    preprocess: { scale: 1, mean, std, channelOrder: 'rgb' },
  });
}

/** Deterministic values in [lo, hi) for weights. */
export function pseudo(n: number, lo: number, hi: number, salt = 3): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.sin((i + 1) * 7.31 * salt + salt * 3.7) * 15731.743;
    v[i] = lo + (hi - lo) * (s - Math.floor(s));
  }
  return v;
}

/** The variable of `classifier` whose name (without tfjs's _N suffix) is `name`, e.g. `block1_bn1/gamma`. */
export function variable(classifier: LayersClassifier, name: string): tf.Variable {
  const v = classifier.weights.find((w) => w.name.replace(/_\d+$/, '') === name);
  if (!v) throw new Error(`no variable ${name}: ${classifier.weights.map((w) => w.name).join(', ')}`);
  return v;
}

