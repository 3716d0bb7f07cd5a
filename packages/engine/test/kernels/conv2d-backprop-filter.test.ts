import { describe, expect, it } from 'vitest';
import { tf } from '../../src/index.js';
import { tensor, wasmVsCpu } from '../helpers/backends.js';

type Pad = 'same' | 'valid' | number;
const cases: { x: [number, number, number, number]; k: [number, number]; co: number; stride: number | [number, number]; pad: Pad }[] = [];
for (const stride of [1, 2] as const) {
  for (const pad of ['same', 'valid', 1] as const) {
    cases.push({ x: [2, 7, 7, 3], k: [3, 3], co: 4, stride, pad });
    cases.push({ x: [3, 9, 6, 2], k: [3, 2], co: 5, stride, pad });
    cases.push({ x: [1, 8, 8, 4], k: [1, 1], co: 3, stride, pad });
    cases.push({ x: [2, 10, 11, 3], k: [5, 5], co: 2, stride, pad });
  }
}
cases.push({ x: [2, 9, 9, 3], k: [3, 3], co: 4, stride: [2, 1], pad: 'same' });
cases.push({ x: [4, 16, 16, 8], k: [3, 3], co: 16, stride: 2, pad: 'valid' });

describe('wasm Conv2DBackpropFilter matches the CPU backend', () => {
  it.each(cases)('x=$x k=$k co=$co stride=$stride pad=$pad', async ({ x, k, co, stride, pad }) => {
    const filterShape: [number, number, number, number] = [k[0], k[1], x[3], co];
    const info = tf.backend_util.computeConv2DInfo(x, filterShape, stride, 1, pad);
    const errors = await wasmVsCpu(() => {
      const xt = tensor(x, 1);
      const dy = tensor([x[0], info.outHeight, info.outWidth, co], 2);
      return tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy }, { strides: stride, pad, dataFormat: 'NHWC', filterShape }) as tf.Tensor;
    });
    expect(errors[0]).toBeLessThan(1e-4);
  });

  it('gives the hand-computed filter gradient of a 1x3x3x1 conv', async () => {
    // y = conv(x, w, valid) with a 2x2 filter; L = sum(y) -> dL/dw[i,j] = sum of the 2x2 window
    // of x that tap (i,j) sees: x = 1..9 gives [[1+2+4+5, 2+3+5+6], [4+5+7+8, 5+6+8+9]].
    const { runOn } = await import('../helpers/backends.js');
    const [dw] = await runOn('wasm', () => {
      const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
      return tf.grad((w: tf.Tensor) => tf.conv2d(x, w as tf.Tensor4D, 1, 'valid').sum())(tf.zeros([2, 2, 1, 1]));
    });
    expect(Array.from(dw)).toEqual([12, 16, 24, 28]);
  });
});
