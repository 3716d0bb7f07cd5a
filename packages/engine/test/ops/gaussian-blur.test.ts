import { describe, expect, it } from 'vitest';
import { gaussianBlur, gaussianKernel1d, initBackend, tf } from '../../src/index.js';

// k = 3, sigma = 1: weights e^-0.5, 1, e^-0.5 normalized by 1 + 2e^-0.5 = 2.2130613.
const SIDE = Math.exp(-0.5) / (1 + 2 * Math.exp(-0.5)); // 0.2740686
const MID = 1 / (1 + 2 * Math.exp(-0.5)); // 0.4518628

describe('gaussianKernel1d', () => {
  it('samples and normalizes the Gaussian', () => {
    const w = gaussianKernel1d(3, 1);
    expect(w[0]).toBeCloseTo(SIDE, 6);
    expect(w[1]).toBeCloseTo(MID, 6);
    expect(w[2]).toBeCloseTo(SIDE, 6);
    expect(gaussianKernel1d(11, 5).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('rejects even sizes and non-positive sigma', () => {
    expect(() => gaussianKernel1d(4, 1)).toThrow('odd');
    expect(() => gaussianKernel1d(3, 0)).toThrow('sigma');
  });
});

describe('gaussianBlur', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: spreads a delta into the outer product of the kernel`, async () => {
      await initBackend(backend);
      const delta = tf.buffer([1, 5, 5, 1]);
      delta.set(1, 0, 2, 2, 0);
      const out = gaussianBlur(delta.toTensor() as tf.Tensor4D, { kernelSize: 3, sigma: 1 }).dataSync();
      expect(out[2 * 5 + 2]).toBeCloseTo(MID * MID, 6);
      expect(out[1 * 5 + 2]).toBeCloseTo(SIDE * MID, 6);
      expect(out[1 * 5 + 1]).toBeCloseTo(SIDE * SIDE, 6);
      expect(out[0]).toBe(0);
    });

    it(`${backend}: darkens borders with zero padding, keeps a constant image with reflect`, async () => {
      await initBackend(backend);
      const ones = tf.ones([1, 5, 5, 2]) as tf.Tensor4D;
      const zeros = gaussianBlur(ones, { kernelSize: 3, sigma: 1 }).dataSync();
      expect(zeros[0]).toBeCloseTo((MID + SIDE) ** 2, 6); // corner: two taps per axis fall outside
      expect(zeros[(2 * 5 + 2) * 2 + 1]).toBeCloseTo(1, 6);
      const reflect = gaussianBlur(ones, { kernelSize: 3, sigma: 1, padding: 'reflect' }).dataSync();
      for (const v of reflect) expect(v).toBeCloseTo(1, 6);
    });
  }
});
