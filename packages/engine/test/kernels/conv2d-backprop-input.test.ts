import { describe, expect, it } from 'vitest';
import { tf } from '../../src/index.js';
import { runOn, tensor, wasmVsCpu } from '../helpers/backends.js';
import { convBackpropCases } from '../helpers/conv-cases.js';

const cases = convBackpropCases();
// Padding wider than the kernel cannot be a forward conv's padding: the upstream kernel runs.
cases.push({ x: [2, 7, 7, 3], k: [3, 3], co: 4, stride: 1, pad: 3 });

describe('wasm Conv2DBackpropInput matches the CPU backend', () => {
  it.each(cases)('x=$x k=$k co=$co stride=$stride pad=$pad', async ({ x, k, co, stride, pad }) => {
    const filterShape: [number, number, number, number] = [k[0], k[1], x[3], co];
    const info = tf.backend_util.computeConv2DInfo(x, filterShape, stride, 1, pad);
    const [err] = await wasmVsCpu(
      () =>
        tf.engine().runKernel(
          'Conv2DBackpropInput',
          { dy: tensor([x[0], info.outHeight, info.outWidth, co], 2), filter: tensor(filterShape, 3) },
          { strides: stride, pad, dataFormat: 'NHWC', inputShape: x },
        ) as tf.Tensor,
    );
    expect(err).toBeLessThan(1e-4);
  });

  it('gives the hand-computed input gradient of a 2x2 valid conv', async () => {
    // y = conv(x, w) on a 3x3 x with w = [[1,2],[3,4]]; L = sum(y): each x pixel collects the
    // taps of the windows it sits in: corners 1,2,3,4; edges 1+2, 1+3, 2+4, 3+4; centre 10.
    const [dx] = await runOn('wasm', () =>
      tf.grad((x: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, tf.tensor4d([1, 2, 3, 4], [2, 2, 1, 1]), 1, 'valid').sum())(tf.zeros([1, 3, 3, 1])),
    );
    expect(Array.from(dx)).toEqual([1, 3, 2, 4, 10, 6, 3, 7, 4]);
  });

  it('computes conv2dTranspose (whose forward pass is this kernel) as the CPU backend does', async () => {
    const [err] = await wasmVsCpu(() => tf.conv2dTranspose(tensor([2, 5, 5, 3], 1) as tf.Tensor4D, tensor([3, 3, 6, 3], 2) as tf.Tensor4D, [2, 10, 10, 6], 2, 'same'));
    expect(err).toBeLessThan(1e-4);
  });
});
