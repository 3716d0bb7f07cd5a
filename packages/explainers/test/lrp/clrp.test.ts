import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { createExplainer } from '../../src/index.js';
import { maxDiff, values, wrap } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/**
 * x (4 pixels) -> flatten -> logits (3 classes), no bias, W (row: pixel, column: class):
 *   [1, 0, 1], [2, 1, 0], [1, 1, -1], [-1, 2, 1]
 * x = [1, 0.5, 1, 0.5]: z = [1 + 1 + 1 - 0.5, 0 + 0.5 + 1 + 1, 1 + 0 - 1 + 0.5] = [2.5, 2.5, 0.5]. Target 0.
 * Rules z+ everywhere (firstLayer: same).
 */
function net() {
  const input = tf.input({ shape: [1, 4, 1] });
  const logits = tf.layers.dense({ units: 3, useBias: false, name: 'logits' });
  const out = logits.apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  logits.setWeights([tf.tensor2d([[1, 0, 1], [2, 1, 0], [1, 1, -1], [-1, 2, 1]])]);
  return wrap(model, 3);
}

async function explain(config: Record<string, unknown>) {
  const classifier = net();
  const e = createExplainer({ type: 'clrp', rule: 'zplus', firstLayer: 'same', ...config }, { classifier, seed: 0, where: 'explainers.0' });
  const x = tf.tensor4d([1, 0.5, 1, 0.5], [1, 1, 4, 1]);
  const t = tf.tensor1d([0], 'int32');
  const map = await e.explain(x, t);
  const out = values(map);
  tf.dispose([x, t, map]);
  classifier.dispose();
  return out;
}

describe('clrp by hand', () => {
  it('clrp1: the dual is every other class weighted by |z|', async () => {
    // signal: w+ of class 0 = [1,2,1,0], contributions [1,1,1,0] -> R^L ∝ [1,1,1,0] -> /sum: [1/3,1/3,1/3,0]
    // dual class 1 (R = 2.5): w+ [0,1,1,2], contributions [0,.5,1,1] (sum 2.5) -> [0,.5,1,1]
    // dual class 2 (R = 0.5): w+ [1,0,0,1], contributions [1,0,0,.5] (sum 1.5) -> [1/3,0,0,1/6]
    // dual = [1/3, 1/2, 1, 7/6], sum 3 -> [1/9, 1/6, 1/3, 7/18]
    // relu(signal - dual) = [2/9, 1/6, 0, 0] -> min-max [1, 0.75, 0, 0]
    expect(maxDiff(await explain({}), [1, 0.75, 0, 0])).toBeLessThan(1e-5);
  });

  it('clrp2: the dual negates the last layer, keeping the target\'s negative weights', async () => {
    // dual: -W column 0 = [-1,-2,-1,1], w+ = [0,0,0,1]: contributions [0,0,0,.5] -> [0,0,0,2.5] -> /sum [0,0,0,1]
    // relu([1/3,1/3,1/3,0] - [0,0,0,1]) = [1/3,1/3,1/3,0] -> [1,1,1,0]
    expect(maxDiff(await explain({ variant: 'clrp2' }), [1, 1, 1, 0])).toBeLessThan(1e-5);
  });
});
