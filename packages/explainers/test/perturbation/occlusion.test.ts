import { initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak } from '@gaze/engine/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createExplainer, defaultOcclusionWindow, finishMaps, occlusionMap, windowStarts, type OcclusionOptions } from '../../src/index.js';
import { gazeError, linearNet, maxDiff, values } from '../cam/nets.js';

beforeAll(async () => {
  await initBackend('wasm');
});

// A linear 4x4 net: logit0 = sum_ij w_ij x_ij, logit1 = 0. With fill 0, occluding a window drops
// logit0 by the sum of w x over the window.
// prettier-ignore
const w = [
  1, 2, 0, -1,
  0, 1, 3, 0,
  2, 0, 1, 1,
  -2, 1, 0, 2,
];
const options = (o: Partial<OcclusionOptions>): OcclusionOptions => ({ window: 2, stride: 2, fill: 0, score: 'logit', batchSize: 256, ...o });

describe('occlusion', () => {
  it('places windows every stride plus one flush with the border, and defaults to an eighth of the side', () => {
    expect(windowStarts(4, 2, 2)).toEqual([0, 2]);
    expect(windowStarts(5, 2, 2)).toEqual([0, 2, 3]);
    expect(windowStarts(4, 2, 1)).toEqual([0, 1, 2]);
    expect(windowStarts(32, 4, 2)).toHaveLength(15);
    expect(defaultOcclusionWindow([32, 32])).toBe(4);
    expect(defaultOcclusionWindow([8, 8])).toBe(2);
    expect(defaultOcclusionWindow([224, 224])).toBe(28);
  });

  it('maps each pixel to the logit drop of its window (non-overlapping 2x2 windows)', async () => {
    // quadrant sums of w: TL 1+2+0+1 = 4, TR 0-1+3+0 = 2, BL 2+0-2+1 = 1, BR 1+1+0+2 = 4
    const net = linearNet(4, 4, w);
    const x = tf.ones([2, 4, 4, 1]) as tf.Tensor4D;
    const t = tf.tensor1d([0, 1], 'int32');
    for (const batchSize of [256, 3, 1]) {
      const map = await occlusionMap(net, x, t, options({ batchSize }));
      // prettier-ignore
      expect(maxDiff(values(map), [
        4, 4, 2, 2,  4, 4, 2, 2,  1, 1, 4, 4,  1, 1, 4, 4,
        ...new Array(16).fill(0), // target 1: its logit never changes
      ])).toBeLessThan(1e-5);
      map.dispose();
    }
    // fill 0.5 on x = 1 halves every drop
    const half = await occlusionMap(net, x, t, options({ fill: 0.5 }));
    expect(values(half).slice(0, 4)).toEqual([2, 2, 1, 1]);
    tf.dispose([x, t, half]);
    net.dispose();
  });

  it('averages the drops of overlapping windows (stride 1)', async () => {
    // window sums D(y,x) at the 9 positions: [[4,6,2],[3,5,5],[1,2,4]]
    // (0,0): D(0,0) = 4; (0,1): (D00 + D01)/2 = 5; (0,3): D02 = 2; (1,1): (4+6+3+5)/4 = 4.5;
    // (2,1): (D10 + D11 + D20 + D21)/4 = (3+5+1+2)/4 = 2.75; (3,3): D22 = 4
    const net = linearNet(4, 4, w);
    const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
    const t = tf.tensor1d([0], 'int32');
    const out = await occlusionMap(net, x, t, options({ stride: 1, batchSize: 4 }));
    const map = values(out);
    out.dispose();
    expect(map[0]).toBeCloseTo(4, 5);
    expect(map[1]).toBeCloseTo(5, 5);
    expect(map[3]).toBeCloseTo(2, 5);
    expect(map[5]).toBeCloseTo(4.5, 5);
    expect(map[9]).toBeCloseTo(2.75, 5);
    expect(map[15]).toBeCloseTo(4, 5);
    tf.dispose([x, t]);
    net.dispose();
  });

  it('uses the softmax probability drop by default', async () => {
    // x = 0.1: logit0 = 0.1 * sum(w) = 1.1; occluding TL removes 0.1 * 4: logit0 = 0.7
    // drop = sigmoid(1.1) - sigmoid(0.7) = .750260 - .668188 = .082072
    const net = linearNet(4, 4, w);
    const x = tf.fill([1, 4, 4, 1], 0.1) as tf.Tensor4D;
    const t = tf.tensor1d([0], 'int32');
    const map = await occlusionMap(net, x, t, options({ score: 'probability' }));
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    expect(values(map)[0]).toBeCloseTo(sigmoid(1.1) - sigmoid(0.7), 5);
    expect(values(map)[15]).toBeCloseTo(sigmoid(1.1) - sigmoid(0.7), 5); // BR also sums to 4
    // the explainer: defaults (window 2 at 4x4 -> max(2, 0) = 2, stride 1), finishMaps of the raw map
    const explainer = createExplainer({ type: 'occlusion' }, { classifier: net, seed: 0, where: 'explainers.0' });
    const before = tf.memory().numTensors;
    const maps = await explainer.explain(x, t);
    expect(tf.memory().numTensors).toBe(before + 1);
    const raw = await occlusionMap(net, x, t, options({ stride: 1, score: 'probability' }));
    const expected = finishMaps(raw, [4, 4]);
    expect(maxDiff(values(maps), values(expected))).toBeLessThan(1e-6);
    tf.dispose([x, t, map, maps, raw, expected]);
    net.dispose();
  });

  it('rejects a window larger than the input at <where>.window', async () => {
    const net = linearNet(4, 4, w);
    const e = await gazeError(() => createExplainer({ type: 'occlusion', window: 5 }, { classifier: net, seed: 0, where: 'explainers.1' }));
    expect(e.where).toBe('explainers.1.window');
    net.dispose();
  });

  it('does not leak', async () => {
    const net = linearNet(4, 4, w);
    const explainer = createExplainer({ type: 'occlusion', stride: 1, batchSize: 5 }, { classifier: net, seed: 0, where: 'explainers.0' });
    const x = tf.ones([2, 4, 4, 1]) as tf.Tensor4D;
    const t = tf.tensor1d([0, 1], 'int32');
    await assertNoTensorLeak(() => explainer.explain(x, t), { label: 'occlusion' });
    tf.dispose([x, t]);
    net.dispose();
  });
});
