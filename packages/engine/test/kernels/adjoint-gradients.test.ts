import { describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/index.js';
import { relativeError, runOn, tensor } from '../helpers/backends.js';

/**
 * For a linear op f, the true gradient of sum(f(x) * w) at any x is g[i] = sum(f(e_i) * w).
 * Each engine gradient kernel for a linear op must equal that, on every backend, i.e. be the
 * exact adjoint of the backend's own forward kernel.
 */
function gradientAndLinearity(f: (x: tf.Tensor4D) => tf.Tensor, inShape: [number, number, number, number]) {
  return tf.tidy(() => {
    const n = inShape.reduce((a, b) => a * b, 1);
    const probe = f(tf.zeros(inShape));
    const w = tensor(probe.shape, 9);
    const byLinearity = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const e = tf.oneHot(tf.tensor1d([i], 'int32'), n).toFloat().reshape(inShape) as tf.Tensor4D;
      byLinearity[i] = tf.sum(tf.mul(f(e), w)).dataSync()[0];
    }
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor4D), w)))(tensor(inShape, 3));
    return { grad: Float32Array.from(grad.dataSync()), byLinearity };
  });
}

type Case = { name: string; inShape: [number, number, number, number]; f: (x: tf.Tensor4D) => tf.Tensor };
const cases: Case[] = [];
for (const [inH, inW, outH, outW] of [
  [3, 4, 7, 5],
  [6, 6, 4, 4],
  [2, 5, 9, 3],
  [7, 7, 16, 16],
] as const) {
  for (const [grid, alignCorners, halfPixel] of [
    ['half-pixel', false, true],
    ['align-corners', true, false],
    ['legacy', false, false],
  ] as const) {
    const inShape: [number, number, number, number] = [2, inH, inW, 2];
    cases.push({ name: `bilinear ${grid} ${inH}x${inW}->${outH}x${outW}`, inShape, f: (x) => tf.image.resizeBilinear(x, [outH, outW], alignCorners, halfPixel) });
    cases.push({ name: `nearest ${grid} ${inH}x${inW}->${outH}x${outW}`, inShape, f: (x) => tf.image.resizeNearestNeighbor(x, [outH, outW], alignCorners, halfPixel) });
  }
}
for (const [size, k, s, pad] of [
  [7, 3, 2, 'same'],
  [6, 3, 1, 'same'],
  [8, 2, 2, 'same'],
  [7, 3, 2, 'valid'],
  [5, 5, 1, 'same'],
] as const) {
  cases.push({ name: `avgPool ${size}x${size} k${k} s${s} ${pad}`, inShape: [2, size, size, 3], f: (x) => tf.avgPool(x, k, s, pad) });
}

describe('gradients of resize and average pooling are exact adjoints of the forward ops', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it.each(cases)(`${backend}: $name`, async ({ f, inShape }) => {
      await initBackend(backend);
      const { grad, byLinearity } = gradientAndLinearity(f, inShape);
      expect(relativeError(grad, byLinearity)).toBeLessThan(1e-5);
    });
  }

  it('half-pixel 2x2 -> 4x4 upsampling has the hand-computed gradient', async () => {
    // Output taps per axis: source 0 gets weights [1, .75, .25, 0], source 1 [0, .25, .75, 1].
    // With w[r][c] = 4r + c: g[0][0] = sum_r a_r (8r + 1.25) = 2.5 + 8*1.25 = 12.5, and so on.
    for (const backend of ['cpu', 'wasm'] as const) {
      const [g] = await runOn(backend, () =>
        tf.grad((x: tf.Tensor) => tf.image.resizeBilinear(x as tf.Tensor4D, [4, 4], false, true).mul(tf.range(0, 16).reshape([1, 4, 4, 1])).sum())(
          tf.zeros([1, 2, 2, 1]),
        ),
      );
      expect(Array.from(g)).toEqual([12.5, 19.5, 40.5, 47.5]);
    }
  });
});
