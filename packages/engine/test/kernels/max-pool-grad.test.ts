import { describe, expect, it } from 'vitest';
import { tf } from '../../src/index.js';
import { runOn, tensor, wasmVsCpu } from '../helpers/backends.js';

describe('wasm MaxPoolGrad', () => {
  const cases: { x: [number, number, number, number]; k: number; s: number; pad: 'same' | 'valid'; relu: boolean }[] = [];
  for (const [x, k, s] of [
    [[2, 7, 7, 3], 2, 2],
    [[2, 6, 6, 3], 3, 1],
    [[1, 8, 8, 4], 3, 2],
    [[3, 9, 5, 2], 2, 2],
  ] as const) {
    for (const pad of ['same', 'valid'] as const) {
      for (const relu of [false, true]) cases.push({ x: [...x], k, s, pad, relu });
    }
  }

  it.each(cases)('matches the CPU backend: x=$x k=$k s=$s pad=$pad relu=$relu', async ({ x, k, s, pad, relu }) => {
    // After a ReLU many windows are all zero: the case the upstream wasm kernel misroutes.
    const [err] = await wasmVsCpu(() =>
      tf.grad((a: tf.Tensor) => {
        const pooled = tf.maxPool((relu ? tf.relu(a) : a) as tf.Tensor4D, k, s, pad);
        return pooled.mul(tensor(pooled.shape, 5)).sum();
      })(tensor(x, 4).sub(relu ? 0.6 : 0)),
    );
    expect(err).toBeLessThan(1e-4);
  });

  it('routes an all-negative window to its maximum and ties to the first maximum', async () => {
    // 2x2 input, one 2x2 window. Negative: max is -1 at index 1. Ties: first 0 at index 0.
    const [negative, ties] = await runOn('wasm', () => {
      const g = tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid').sum());
      return [g(tf.tensor4d([-3, -1, -2, -4], [1, 2, 2, 1])), g(tf.tensor4d([0, 0, 0, 0], [1, 2, 2, 1]))];
    });
    expect(Array.from(negative)).toEqual([0, 1, 0, 0]);
    expect(Array.from(ties)).toEqual([1, 0, 0, 0]);
  });
});
