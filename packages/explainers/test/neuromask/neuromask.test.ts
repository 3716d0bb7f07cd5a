import { Rng, initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak } from '@gaze/engine/testing';
import type { LayersClassifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NeuromaskConfig, createExplainer, neuromaskInit, neuromaskLoss, neuromaskSmoothness, optimizeNeuromask, rmspropStep, adamStep } from '../../src/index.js';
import { columns, denseNet, maxDiff, values } from '../gradients/helpers.js';

// 4x4x1 images, 2 classes: z0 = sum of the left two columns of x*m, z1 = 0.5 * sum of all of x*m.
const LEFT2 = Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 1 : 0));
let net4: LayersClassifier;
// 8x8x1 images: z0 = sum over the left half (columns 0..3) of x*m, z1 = 8 (a constant bias: about half the left half must show to beat it):
// the target 0's score depends only on the left half.
let leftNet: LayersClassifier;

beforeAll(async () => {
  await initBackend('wasm');
  net4 = denseNet([4, 4, 1], { kernel: columns(LEFT2, new Array(16).fill(0.5)), bias: [0, 0] });
  const left = Array.from({ length: 64 }, (_, i) => (i % 8 < 4 ? 1 : 0));
  leftNet = denseNet([8, 8, 1], { kernel: columns(left, new Array(64).fill(0)), bias: [0, 8] });
});

afterAll(() => {
  net4.dispose();
  leftNet.dispose();
});

// w = a ramp 0..15 (row-major) with +9 on (1,1): [[0,1,2,3],[4,14,6,7],[8,9,10,11],[12,13,14,15]]
// prettier-ignore
const W = [0, 1, 2, 3, 4, 14, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

describe('neuromask loss', () => {
  it('computes each term of J on a 4x4 w by hand', () => {
    const x = tf.fill([1, 4, 4, 1], 0.5) as tf.Tensor4D;
    const w = tf.tensor4d(W, [1, 4, 4, 1]);
    const target = tf.tensor1d([0], 'int32');
    const options = { lambdaPred: 50, lambdaSparse: 16, lambdaSmooth: 3, temperature: 10, weightLimit: 10, smoothness: 'laplacian' as const };
    const terms = neuromaskLoss(net4, x, w, target, options);
    // pred: m = sigmoid(w / 10), z0 = sum_left 0.5 m, z1 = sum 0.25 m, CE = log(1 + exp(z1 - z0))
    const m = W.map((v) => 1 / (1 + Math.exp(-v / 10)));
    const z0 = m.reduce((s, mi, i) => s + LEFT2[i] * 0.5 * mi, 0);
    const z1 = m.reduce((s, mi) => s + 0.25 * mi, 0);
    const pred = Math.log(1 + Math.exp(z1 - z0));
    expect(values(terms.pred)[0]).toBeCloseTo(pred, 5);
    // sparse: mean |w + 10| = (sum w + 160) / 16 = (129 + 160) / 16 = 18.0625
    expect(values(terms.sparse)[0]).toBeCloseTo(18.0625, 5);
    // Laplacian, VALID 2x2 output: the ramp is linear so K*ramp = 0; the +9 spike gives 8*9 = 72 at
    // (1,1) and -9 at (1,2),(2,1),(2,2): mean of squares (72^2 + 3 * 81) / 4 = 1356.75
    expect(values(terms.smooth)[0]).toBeCloseTo(1356.75, 3);
    expect(values(terms.total)[0]).toBeCloseTo(50 * pred + 16 * 18.0625 + 3 * 1356.75, 2);
    // TV: |dy| = 4 on the ramp except 13 and 5 around the spike: (10*4 + 18) / 12; |dx| = 1 except
    // 10, 8 (and 1) in row 1: (9 + 19) / 12; TV = 86 / 12
    const tv = neuromaskSmoothness(w, 'tv');
    expect(values(tv)[0]).toBeCloseTo(86 / 12, 5);
    tf.dispose([x, w, target, terms, tv]);
  });

  it('takes one TF1 RMSProp step by the hand formula', () => {
    // ms' = 0.9 ms + 0.1 g^2, w' = w - 0.03 g / sqrt(ms' + 1e-10)
    // ms = 1: g = 0.5 -> ms' = 0.925, w' = 1 - 0.015 / 0.961769 = 0.9844037
    //         g = -4  -> ms' = 2.5,   w' = -2 + 0.12 / 1.581139 = -1.9241053
    const step = rmspropStep(tf.tensor1d([1, -2]), tf.tensor1d([1, 1]), tf.tensor1d([0.5, -4]), { learningRate: 0.03, decay: 0.9, epsilon: 1e-10 });
    expect(maxDiff(values(step.ms), [0.925, 2.5])).toBeLessThan(1e-6);
    expect(maxDiff(values(step.w), [0.9844037, -1.9241053])).toBeLessThan(1e-6);
    tf.dispose(step);
  });

  it('takes Adam steps with bias-corrected moments (hand-computed two steps)', () => {
    // t=1, g=[0.5,-4]: m=[0.05,-0.4], v=[0.00025,0.016]; m^=g, v^=g^2, so the step is lr*sign(g).
    // t=2, g=[1,2]: m=[0.145,-0.16], v=[0.00124975,0.019984]; w=[0.94104454,-1.96200989].
    const opts = { learningRate: 0.03, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
    const s1 = adamStep(tf.tensor1d([1, -2]), tf.zeros([2]), tf.zeros([2]), tf.tensor1d([0.5, -4]), 1, opts);
    expect(maxDiff(values(s1.w), [0.97, -1.97])).toBeLessThan(1e-6);
    const s2 = adamStep(s1.w, s1.m, s1.v, tf.tensor1d([1, 2]), 2, opts);
    expect(maxDiff(values(s2.m), [0.145, -0.16])).toBeLessThan(1e-6);
    expect(maxDiff(values(s2.v), [0.00124975, 0.019984])).toBeLessThan(1e-7);
    expect(maxDiff(values(s2.w), [0.94104454, -1.96200989])).toBeLessThan(1e-5);
    tf.dispose([s1, s2]);
  });

  it('optimizes w with the sparsity gradient alone as the hand formula says', () => {
    // lambda_pred = lambda_smooth = 0, lambda_sparse = 16: g = 16 * sign(w + 10) / 16 = 1 for w > -10.
    // rmsInit ones: ms = 0.9 + 0.1 = 1 every step, so each step is exactly -0.03.
    // rmsInit zeros (tfjs/Keras): ms1 = 0.1, step 0.03 / sqrt(0.1) = 0.0948683; ms2 = 0.19, step 0.0688247.
    const x = tf.fill([1, 4, 4, 1], 0.5) as tf.Tensor4D;
    const init = tf.tensor4d(W, [1, 4, 4, 1]);
    const target = tf.tensor1d([0], 'int32');
    const config = NeuromaskConfig.parse({ iterations: 2, lambdaPred: 0, lambdaSmooth: 0 });
    const ones = optimizeNeuromask(net4, x, target, init, config);
    expect(maxDiff(values(ones.w), W.map((v) => v - 0.06))).toBeLessThan(1e-5);
    // the mask is sigmoid(w / 0.3)
    expect(maxDiff(values(ones.mask), W.map((v) => 1 / (1 + Math.exp(-(v - 0.06) / 0.3))))).toBeLessThan(1e-6);
    const zeros = optimizeNeuromask(net4, x, target, init, { ...config, rmsInit: 'zeros' });
    expect(maxDiff(values(zeros.w), W.map((v) => v - 0.0948683 - 0.0688247))).toBeLessThan(1e-5);
    // Adam with a constant gradient of 1: m^ = v^ = 1 every step, so each step is lr = 0.03 (up to epsilon).
    const adam = optimizeNeuromask(net4, x, target, init, { ...config, optimizer: 'adam', iterations: 3 });
    expect(maxDiff(values(adam.w), W.map((v) => v - 0.09))).toBeLessThan(1e-5);
    tf.dispose([x, init, target, ones, zeros, adam]);
  });
});

describe('neuromask optimization', () => {
  it('keeps the half of the image the score depends on, and batching does not change any image\'s mask', () => {
    // x in [0.3, 1); target 0 whose logit is the left half's sum; sparsity hides what the CE does not need.
    // Measured (wasm, 600 steps): mean mask left 0.493 / 0.462, right 0.018 / 0.063.
    const rng = new Rng(5, 'images');
    const x = tf.tensor4d(Array.from({ length: 2 * 64 }, () => rng.uniform(0.3, 1)), [2, 8, 8, 1]);
    const target = tf.tensor1d([0, 0], 'int32');
    const init = neuromaskInit([2, 8, 8], 10, new Rng(0, 'neuromask'));
    const config = NeuromaskConfig.parse({ iterations: 600 });
    const both = optimizeNeuromask(leftNet, x, target, init, config);
    const mask = both.mask.arraySync();
    for (const image of mask) {
      const left = image.flatMap((row) => row.slice(0, 4));
      const right = image.flatMap((row) => row.slice(4));
      const mean = (v: number[]) => v.reduce((s, a) => s + a, 0) / v.length;
      console.log(`neuromask mean mask: left ${mean(left).toFixed(3)}, right ${mean(right).toFixed(3)}`);
      expect(mean(left) - mean(right)).toBeGreaterThan(0.3);
    }
    // image 1 alone (its own x, target and init) gives the same mask as in the batch
    const one = optimizeNeuromask(leftNet, tf.slice(x, [1], [1]), tf.slice(target, [1], [1]), tf.slice(init, [1], [1]), config);
    expect(maxDiff(values(one.mask), values(tf.slice(both.mask, [1], [1])))).toBeLessThan(1e-4);
    tf.dispose([x, target, init, both, one]);
  });

  it('explains through the registry without leaking, and rejects unknown keys', async () => {
    const x = tf.fill([2, 8, 8, 1], 0.7) as tf.Tensor4D;
    const target = tf.tensor1d([0, 1], 'int32');
    const explainer = createExplainer({ type: 'neuromask', iterations: 5 }, { classifier: leftNet, seed: 0, where: 'explainers.0' });
    const map = await explainer.explain(x, target);
    expect(map.shape).toEqual([2, 8, 8]);
    expect(tf.max(map).dataSync()[0]).toBe(1);
    expect(tf.min(map).dataSync()[0]).toBe(0);
    const again = await explainer.explain(x, target);
    expect(values(again)).toEqual(values(map)); // seeded: the same call gives the same maps
    tf.dispose([map, again]);
    await assertNoTensorLeak(() => explainer.explain(x, target), { runs: 2, label: 'neuromask' });
    const tv = createExplainer({ type: 'neuromask', iterations: 3, smoothness: 'tv' }, { classifier: leftNet, seed: 0, where: 'explainers.0' });
    await assertNoTensorLeak(() => tv.explain(x, target), { runs: 2, label: 'neuromask tv' });
    expect(() => createExplainer({ type: 'neuromask', coeffs: [1, 2, 3] }, { classifier: leftNet, seed: 0, where: 'explainers.0' })).toThrow();
    expect(NeuromaskConfig.parse({})).toMatchObject({ iterations: 1000, lambdaPred: 50, lambdaSparse: 16, lambdaSmooth: 3, temperature: 0.3, weightLimit: 10, learningRate: 0.03, rmsDecay: 0.9, rmsEpsilon: 1e-10, rmsInit: 'ones', smoothness: 'laplacian' });
    tf.dispose([x, target]);
  });
});
