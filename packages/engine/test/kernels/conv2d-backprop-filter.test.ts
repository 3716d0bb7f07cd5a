import { describe, expect, it } from 'vitest';
import { tf } from '../../src/index.js';
import { tensor, wasmVsCpu } from '../helpers/backends.js';
import { convBackpropCases } from '../helpers/conv-cases.js';

const cases = convBackpropCases();

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
