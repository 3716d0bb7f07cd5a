import { initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak } from '@gaze/engine/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  camRawMaps,
  createExplainer,
  finishMaps,
  gradCamPlusPlusAlphas,
  gradCamPlusPlusWeights,
  gradCamWeights,
  layerCamWeights,
  tapGradients,
  type CamWeighting,
} from '../../src/index.js';
import { gazeError, maxDiff, tinyImage, tinyVgg, values } from './nets.js';

beforeAll(async () => {
  await initBackend('wasm');
});

// tinyVgg on tinyImage (see nets.ts): A0 = [[.5,.9],[1,.75]], A1 = [[.9,.7],[1,.75]] (row-major
// below), sum_ab A0 = 3.15, sum_ab A1 = 3.35; dy^c/dA_k = W[k,c] / 4 with the dense columns
// c0 [2,-1], c1 [-1,1], c2 [1,2], c3 [0,1].
const A0 = [0.5, 0.9, 1, 0.75];
const A1 = [0.9, 0.7, 1, 0.75];
const combo = (w0: number, w1: number) => A0.map((a, i) => Math.max(0, w0 * a + w1 * A1[i]));

/** One batch of four copies of the tiny image with targets 0..3, so one backward pass serves all. */
function batch(): { x: tf.Tensor4D; t: tf.Tensor1D } {
  const one = tinyImage();
  const x = tf.tile(one, [4, 1, 1, 1]) as tf.Tensor4D;
  one.dispose();
  return { x, t: tf.tensor1d([0, 1, 2, 3], 'int32') };
}

async function rawMaps(weigh: CamWeighting): Promise<number[][]> {
  const c = await tinyVgg();
  const { x, t } = batch();
  const raw = camRawMaps(c, x, t, 'block1', weigh);
  expect(raw.shape).toEqual([4, 2, 2]);
  const v = values(raw);
  tf.dispose([x, t, raw]);
  c.dispose();
  return [0, 1, 2, 3].map((b) => v.slice(4 * b, 4 * b + 4));
}

describe('the CAM pipeline', () => {
  it('takes A at the tap and dy^c/dA per image from one batched backward pass', async () => {
    const c = await tinyVgg();
    const { x, t } = batch();
    const { activations, gradients } = tapGradients(c, x, t, 'block1');
    expect(activations.shape).toEqual([4, 2, 2, 2]);
    const a = values(activations);
    // NHWC: channel 0 at even positions, channel 1 at odd ones
    expect(maxDiff(a.slice(0, 8).filter((_, i) => i % 2 === 0), A0)).toBeLessThan(1e-6);
    expect(maxDiff(a.slice(0, 8).filter((_, i) => i % 2 === 1), A1)).toBeLessThan(1e-6);
    // image b's gradient is W[:, b] / 4 at every position (GAP over 4 cells)
    const g = values(gradients);
    const W = [
      [2, -1],
      [-1, 1],
      [1, 2],
      [0, 1],
    ];
    for (let b = 0; b < 4; b++) {
      const expected = [0, 1, 2, 3].flatMap(() => W[b].map((v) => v / 4));
      expect(maxDiff(g.slice(8 * b, 8 * b + 8), expected)).toBeLessThan(1e-6);
    }
    tf.dispose([x, t, activations, gradients]);
    c.dispose();
  });

  it('rejects an unknown tap with a GazeError at <where>.layer listing the taps, and defaults to the deepest tap', async () => {
    const c = await tinyVgg();
    for (const type of ['gradcam', 'gradcam++', 'layercam', 'scorecam']) {
      const e = await gazeError(() => createExplainer({ type, layer: 'block9' }, { classifier: c, seed: 0, where: 'explainers.2' }));
      expect(e.where).toBe('explainers.2.layer');
      expect(e.message).toContain("no tap 'block9'");
      expect(e.hint).toContain('block1');
      // an unknown key is a config error too
      const k = await gazeError(() => createExplainer({ type, lyer: 'block1' }, { classifier: c, seed: 0, where: 'explainers.2' }));
      expect(k.where).toBe('explainers.2');
    }
    const explainer = createExplainer({ type: 'gradcam' }, { classifier: c, seed: 0, where: 'explainers.0' });
    expect(explainer.name).toBe('gradcam');
    c.dispose();
  });
});

describe('Grad-CAM', () => {
  it('weights each channel by GAP 1/(h w) times the dense kernel column and gives the hand-computed raw maps', async () => {
    // w_k = W[k,c] / 4:
    // c0: [.5,-.25] -> .5 A0 - .25 A1 = [.025, .275, .25, .1875]
    // c1: [-.25,.25] -> .25 (A1 - A0) = [.1, -.05, 0, 0] -> ReLU [.1, 0, 0, 0]
    // c2: [.25,.5] -> [.575, .575, .75, .5625]; c3: [0,.25] -> .25 A1
    const maps = await rawMaps(gradCamWeights);
    expect(maxDiff(maps[0], [0.025, 0.275, 0.25, 0.1875])).toBeLessThan(1e-6);
    expect(maxDiff(maps[1], [0.1, 0, 0, 0])).toBeLessThan(1e-6);
    expect(maxDiff(maps[2], [0.575, 0.575, 0.75, 0.5625])).toBeLessThan(1e-6);
    expect(maxDiff(maps[3], combo(0, 0.25))).toBeLessThan(1e-6);
    // the channel weights themselves
    const c = await tinyVgg();
    const { x, t } = batch();
    const { activations, gradients } = tapGradients(c, x, t, 'block1');
    const w = gradCamWeights(activations, gradients);
    expect(w.shape).toEqual([4, 1, 1, 2]);
    expect(maxDiff(values(w), [0.5, -0.25, -0.25, 0.25, 0.25, 0.5, 0, 0.25])).toBeLessThan(1e-6);
    tf.dispose([x, t, activations, gradients, w]);
    c.dispose();
  });

  it('explain() = finishMaps(raw map) at the input size, in [0,1], without leaking', async () => {
    const c = await tinyVgg();
    const explainer = createExplainer({ type: 'gradcam', layer: 'block1' }, { classifier: c, seed: 0, where: 'explainers.0' });
    const { x, t } = batch();
    const before = tf.memory().numTensors;
    const maps = await explainer.explain(x, t);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(maps.shape).toEqual([4, 4, 4]);
    const raw = tf.tensor3d([0.025, 0.275, 0.25, 0.1875, 0.1, 0, 0, 0, 0.575, 0.575, 0.75, 0.5625, ...combo(0, 0.25)], [4, 2, 2]);
    const expected = finishMaps(raw, [4, 4]);
    expect(maxDiff(values(maps), values(expected))).toBeLessThan(1e-5);
    const v = values(maps);
    expect(Math.min(...v)).toBe(0);
    expect(Math.max(...v)).toBeCloseTo(1, 6);
    // image 1's raw map is [.1,0,0,0]: its maximum is the top-left output pixel
    expect(v[16]).toBeCloseTo(1, 6);
    tf.dispose([maps, raw, expected]);
    await assertNoTensorLeak(() => explainer.explain(x, t), { label: 'gradcam' });
    tf.dispose([x, t]);
    c.dispose();
  });
});

describe('Grad-CAM++', () => {
  it('computes alpha = g^2 / (2 g^2 + g^3 sum_ab A) with a zero denominator -> 1 (a case with position-varying g)', () => {
    // one channel, two positions: A = [1, 3] (sum 4), g = [1, -0.5]
    // alpha_0 = 1 / (2 + 1*4) = 1/6; alpha_1 = .25 / (.5 - .125*4) = .25 / 0 -> .25 / 1 = .25
    // w = 1/6 * ReLU(1) + .25 * ReLU(-.5) = 1/6
    const a = tf.tensor4d([1, 3], [1, 1, 2, 1]);
    const g = tf.tensor4d([1, -0.5], [1, 1, 2, 1]);
    const alpha = gradCamPlusPlusAlphas(a, g);
    expect(maxDiff(values(alpha), [1 / 6, 0.25])).toBeLessThan(1e-6);
    const w = gradCamPlusPlusWeights(a, g);
    expect(maxDiff(values(w), [1 / 6])).toBeLessThan(1e-6);
    // zero gradient: 0 / (0 -> 1) = 0, not NaN
    const z = tf.zeros([1, 1, 2, 1]) as tf.Tensor4D;
    expect(values(gradCamPlusPlusAlphas(a, z))).toEqual([0, 0]);
    tf.dispose([a, g, alpha, w, z]);
  });

  it('gives the hand-computed alphas, weights and raw maps on the tiny vgg', async () => {
    // uniform g per channel: alpha_k = 1 / (2 + g_k S_k), w_k = 4 alpha_k ReLU(g_k)
    // c0: g [.5,-.25]: alpha [1/3.575, 1/1.1625]; w = [2/3.575, 0] = [.559441, 0]
    // c2: g [.25,.5]:  alpha [1/2.7875, 1/3.675]; w = [1/2.7875, 2/3.675] = [.358744, .544218]
    //     (Grad-CAM's ratio 1:2 becomes .659:1)
    // c3: g [0,.25]:   alpha [0 (denominator 0 -> 1), 1/2.8375]; w = [0, 1/2.8375] = [0, .352423]
    const c = await tinyVgg();
    const { x, t } = batch();
    const { activations, gradients } = tapGradients(c, x, t, 'block1');
    const alpha = values(gradCamPlusPlusAlphas(activations, gradients));
    expect(maxDiff(alpha.slice(0, 2), [1 / 3.575, 1 / 1.1625])).toBeLessThan(1e-5);
    expect(maxDiff(alpha.slice(16, 18), [1 / 2.7875, 1 / 3.675])).toBeLessThan(1e-5);
    expect(maxDiff(alpha.slice(24, 26), [0, 1 / 2.8375])).toBeLessThan(1e-5);
    const w = values(gradCamPlusPlusWeights(activations, gradients));
    // c1: g [-.25,.25]: w = [0, 4 * .25 / (2 + .25 * 3.35)] = [0, 1/2.8375]
    expect(maxDiff(w, [2 / 3.575, 0, 0, 1 / 2.8375, 1 / 2.7875, 2 / 3.675, 0, 1 / 2.8375])).toBeLessThan(1e-5);
    tf.dispose([x, t, activations, gradients]);
    const maps = await rawMaps(gradCamPlusPlusWeights);
    expect(maxDiff(maps[0], combo(2 / 3.575, 0))).toBeLessThan(1e-5);
    expect(maxDiff(maps[1], combo(0, 1 / 2.8375))).toBeLessThan(1e-5);
    expect(maxDiff(maps[2], combo(1 / 2.7875, 2 / 3.675))).toBeLessThan(1e-5);
    expect(maxDiff(maps[3], combo(0, 1 / 2.8375))).toBeLessThan(1e-5);
    c.dispose();
  });

  it('does not leak', async () => {
    const c = await tinyVgg();
    const explainer = createExplainer({ type: 'gradcam++' }, { classifier: c, seed: 0, where: 'explainers.0' });
    const { x, t } = batch();
    await assertNoTensorLeak(() => explainer.explain(x, t), { label: 'gradcam++' });
    tf.dispose([x, t]);
    c.dispose();
  });
});

describe('Layer-CAM', () => {
  it('weights every position by ReLU(g) elementwise: the hand-computed raw maps', async () => {
    // c0: ReLU(g) = [.5, 0] -> .5 A0; c1: [0, .25] -> .25 A1; c2: [.25, .5]; c3: [0, .25]
    const maps = await rawMaps(layerCamWeights);
    expect(maxDiff(maps[0], [0.25, 0.45, 0.5, 0.375])).toBeLessThan(1e-6);
    expect(maxDiff(maps[1], [0.225, 0.175, 0.25, 0.1875])).toBeLessThan(1e-6);
    expect(maxDiff(maps[2], combo(0.25, 0.5))).toBeLessThan(1e-6);
    expect(maxDiff(maps[3], combo(0, 0.25))).toBeLessThan(1e-6);
  });

  it('does not leak', async () => {
    const c = await tinyVgg();
    const explainer = createExplainer({ type: 'layercam' }, { classifier: c, seed: 0, where: 'explainers.0' });
    const { x, t } = batch();
    await assertNoTensorLeak(() => explainer.explain(x, t), { label: 'layercam' });
    tf.dispose([x, t]);
    c.dispose();
  });
});
