import { describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/index.js';
import { relativeError, tensor } from '../helpers/backends.js';

/**
 * The engine's FusedBatchNorm gradient against autodiff of the same formula written with
 * elementwise ops (sub, rsqrt, mul, add), whose broadcasting gradients tfjs reduces itself: both
 * must give the same derivatives with respect to x, mean, variance, scale and offset.
 */
const EPS = 1e-3;

function grads(useKernel: boolean, shapes: { x: readonly number[]; param: readonly number[] }, withScale: boolean): Float32Array[] {
  return tf.tidy(() => {
    const x = tensor([...shapes.x], 1);
    const mean = tensor([...shapes.param], 2);
    const variance = tf.add(tf.abs(tensor([...shapes.param], 3)), 0.5); // positive
    const scale = tensor([...shapes.param], 4);
    const offset = tensor([...shapes.param], 5);
    const w = tensor([...shapes.x], 6);
    // inputs: x, mean, variance, offset[, scale]
    const f = (...args: tf.Tensor[]) => {
      const [xv, m, v, o, s] = args;
      const y = useKernel ? tf.batchNorm(xv as tf.Tensor4D, m, v, o, s, EPS) : tf.add(tf.mul(tf.mul(tf.sub(xv, m), tf.rsqrt(tf.add(v, EPS))), s ?? 1), o);
      return tf.sum(tf.mul(y, w));
    };
    const g = tf.grads(f)(withScale ? [x, mean, variance, offset, scale] : [x, mean, variance, offset]);
    return g.map((t) => Float32Array.from(t.dataSync()));
  });
}

describe('FusedBatchNorm gradient (broadcasting, no Tile)', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    for (const [name, shapes, withScale] of [
      ['channel parameters [C]', { x: [2, 3, 4, 5], param: [5] }, true],
      ['broadcast parameters [1,1,1,C]', { x: [2, 3, 4, 5], param: [1, 1, 1, 5] }, true],
      // (Without a scale tfjs 4.22 cannot record batchNorm for backprop at all: its engine tries to
      // save the absent scale. Keras batch-norm layers always pass one.)
      ['another shape', { x: [3, 2, 2, 4], param: [4] }, true],
    ] as const) {
      it(`${backend}: ${name}`, async () => {
        await initBackend(backend);
        const kernel = grads(true, shapes, withScale);
        const reference = grads(false, shapes, withScale);
        const names = ['x', 'mean', 'variance', 'offset', 'scale'];
        expect(kernel).toHaveLength(withScale ? 5 : 4);
        kernel.forEach((g, i) => expect(relativeError(g, reference[i]), names[i]).toBeLessThan(1e-5));
      });
    }
  }

  it('is the gradient tfjs uses for FusedBatchNorm', async () => {
    await initBackend('wasm');
    const { batchNormGradConfig } = await import('../../src/kernels/batch-norm-grad.js');
    expect(tf.getGradient('FusedBatchNorm').gradFunc).toBe(batchNormGradConfig.gradFunc);
  });
});
