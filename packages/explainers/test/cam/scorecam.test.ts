import { initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak } from '@gaze/engine/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createExplainer, finishMaps, scoreCamRaw } from '../../src/index.js';
import { maxDiff, scoreCamNet, values } from './nets.js';

beforeAll(async () => {
  await initBackend('wasm');
});

// scoreCamNet (nets.ts): tap 'feat' = [x, 1 - x, 0.5] at the input's 2x2 resolution, logits of an
// input z with mean m: [3m, 3(1 - m)]. x = [.2, .4, .6, .8]; two copies, targets [0, 1].
const X = [0.2, 0.4, 0.6, 0.8];
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

function batch(): { x: tf.Tensor4D; t: tf.Tensor1D } {
  return { x: tf.tensor4d([...X, ...X], [2, 2, 2, 1]), t: tf.tensor1d([0, 1], 'int32') };
}

describe('Score-CAM (paper)', () => {
  it('softmaxes the masked-input logits over channels, skips the constant channel, and weights A_k', () => {
    // H0 = minmax(x) = [0, 1/3, 2/3, 1]: x*H0 = [0, .1333, .4, .8], mean 1/3 -> logits [1, 2]
    // H1 = minmax(1 - x) = [1, 2/3, 1/3, 0]: x*H1 = [.2, .2667, .2, 0], mean 1/6 -> logits [.5, 2.5]
    // channel 2 (0.5 everywhere) is constant: skipped
    // image 0, c = 0: S = [1, .5] -> alpha = [sigmoid(.5), sigmoid(-.5)] = [.622459, .377541]
    //   map = alpha0 x + alpha1 (1 - x) = .377541 + .244918 x
    // image 1, c = 1: S = [2, 2.5] -> alpha = [.377541, .622459] -> map = .622459 - .244918 x
    const c = scoreCamNet();
    const { x, t } = batch();
    for (const batchSize of [32, 3, 1]) {
      const { raw, weights, scores } = scoreCamRaw(c, x, t, 'feat', 'paper', batchSize);
      expect(raw.shape).toEqual([2, 2, 2]);
      expect(maxDiff(Array.from(scores).filter((s) => !Number.isNaN(s)), [1, 0.5, 2, 2.5])).toBeLessThan(1e-5);
      expect(Number.isNaN(scores[2]) && Number.isNaN(scores[5])).toBe(true);
      const a = sigmoid(0.5);
      expect(maxDiff(weights, [a, 1 - a, 0, 1 - a, a, 0])).toBeLessThan(1e-5);
      const expected = [...X.map((v) => a * v + (1 - a) * (1 - v)), ...X.map((v) => (1 - a) * v + a * (1 - v))];
      expect(maxDiff(values(raw), expected)).toBeLessThan(1e-5);
      expect(maxDiff(values(raw).slice(0, 4), [0.4265244, 0.4755081, 0.5244919, 0.5734756])).toBeLessThan(1e-5);
      raw.dispose();
    }
    tf.dispose([x, t]);
    c.dispose();
  });

  it('gives an all-zero map when every channel is constant', async () => {
    // x = 0: channels 0, 1 - 0 = 1 and .5 are all constant
    const c = scoreCamNet();
    const x = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    const t = tf.tensor1d([0], 'int32');
    const explainer = createExplainer({ type: 'scorecam' }, { classifier: c, seed: 0, where: 'explainers.0' });
    const maps = await explainer.explain(x, t);
    expect(values(maps)).toEqual([0, 0, 0, 0]);
    tf.dispose([x, t, maps]);
    c.dispose();
  });
});

describe('Score-CAM (tame)', () => {
  it('uses H_k = ReLU(A_k) / range (no min subtracted) and the target probability as the weight', () => {
    // H0 = x / .6: x*H0 = x^2 / .6, mean .3/.6 = .5 -> logits [1.5, 1.5] -> p = [.5, .5]
    // H1 = (1 - x) / .6: x(1 - x)/.6 = [.16,.24,.24,.16]/.6, mean 1/3 -> logits [1, 2] -> p = [.268941, .731059]
    // image 0, c = 0: map = .5 H0 + .268941 H1 = (.268941 + .231059 x) / .6
    //   = [.5252185, .6022747, .6792943, .7563138]
    // image 1, c = 1: map = .5 H0 + .731059 H1 = (.731059 - .231059 x) / .6
    //   = [1.1414115, 1.0643920, .9873723, .9103528]
    const c = scoreCamNet();
    const { x, t } = batch();
    const { raw, weights, scores } = scoreCamRaw(c, x, t, 'feat', 'tame', 4);
    const p = sigmoid(-1);
    expect(maxDiff(Array.from(scores).filter((s) => !Number.isNaN(s)), [0.5, p, 0.5, 1 - p])).toBeLessThan(1e-5);
    expect(maxDiff(weights, [0.5 / 0.6, p / 0.6, 0, 0.5 / 0.6, (1 - p) / 0.6, 0])).toBeLessThan(1e-5);
    expect(maxDiff(values(raw), [0.5252185, 0.6022747, 0.6792943, 0.7563138, 1.1414115, 1.064392, 0.9873723, 0.9103528])).toBeLessThan(1e-4);
    const exact = [...X.map((v) => (0.5 * v + p * (1 - v)) / 0.6), ...X.map((v) => (0.5 * v + (1 - p) * (1 - v)) / 0.6)];
    expect(maxDiff(values(raw), exact)).toBeLessThan(1e-5);
    raw.dispose();
    tf.dispose([x, t]);
    c.dispose();
  });

  it('explain() finishes the raw map and does not leak (both variants)', async () => {
    const c = scoreCamNet();
    const { x, t } = batch();
    for (const variant of ['paper', 'tame']) {
      const explainer = createExplainer({ type: 'scorecam', variant, batchSize: 3 }, { classifier: c, seed: 0, where: 'explainers.0' });
      const before = tf.memory().numTensors;
      const maps = await explainer.explain(x, t);
      expect(tf.memory().numTensors).toBe(before + 1);
      const { raw } = scoreCamRaw(c, x, t, 'feat', variant as 'paper' | 'tame', 32);
      const expected = finishMaps(raw, [2, 2]);
      expect(maxDiff(values(maps), values(expected))).toBeLessThan(1e-6);
      // both images' maps run from 0 to 1; image 0 rises with x, image 1 falls
      expect(values(maps)).toEqual(expect.arrayContaining([0, 1]));
      expect(values(maps)[3]).toBeCloseTo(1, 5);
      expect(values(maps)[4]).toBeCloseTo(1, 5);
      tf.dispose([maps, raw, expected]);
      await assertNoTensorLeak(() => explainer.explain(x, t), { label: `scorecam ${variant}` });
    }
    tf.dispose([x, t]);
    c.dispose();
  });
});
