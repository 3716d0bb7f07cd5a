import { describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/index.js';
import { relativeError, runOn, tensor, wasmVsCpu } from '../helpers/backends.js';

type Case = { x: [number, number, number, number]; k: number; mult: number; stride: number; dilation: number; pad: 'same' | 'valid' };
// tfjs's CPU kernels ignore dilation in these two kernels, so dilated cases are checked against
// the forward depthwise conv (which honours it) instead, see `dilatedCases` below.
const cases: Case[] = [];
for (const stride of [1, 2]) {
  for (const pad of ['same', 'valid'] as const) {
    cases.push({ x: [2, 7, 7, 3], k: 3, mult: 1, stride, dilation: 1, pad });
    cases.push({ x: [2, 8, 9, 2], k: 3, mult: 2, stride, dilation: 1, pad });
    cases.push({ x: [1, 10, 10, 4], k: 5, mult: 1, stride, dilation: 1, pad });
  }
}
// tfjs allows dilation only with stride 1.
const dilatedCases: Case[] = [];
for (const pad of ['same', 'valid'] as const) {
  dilatedCases.push({ x: [2, 9, 9, 2], k: 3, mult: 1, stride: 1, dilation: 2, pad });
  dilatedCases.push({ x: [1, 8, 7, 2], k: 2, mult: 2, stride: 1, dilation: 3, pad });
}

/**
 * The backprop kernels by linearity from forward convs (on the CPU backend):
 * dW[i] = sum(dy * conv(x, e_i)) and dx[j] = sum(dy * conv(e_j, W)) for one-hot e.
 */
function referenceByLinearity(c: Case, which: 'filter' | 'input'): Float32Array {
  const { filterShape, dyShape } = shapes(c);
  return tf.tidy(() => {
    const x = tensor(c.x, 1);
    const dy = tensor(dyShape, 2);
    const w = tensor(filterShape, 3);
    const size = which === 'filter' ? w.size : x.size;
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const onehot = tf.oneHot(tf.tensor1d([i], 'int32'), size).toFloat().reshape(which === 'filter' ? filterShape : c.x) as tf.Tensor4D;
      const y =
        which === 'filter'
          ? tf.depthwiseConv2d(x as tf.Tensor4D, onehot, c.stride, c.pad, 'NHWC', c.dilation)
          : tf.depthwiseConv2d(onehot, w as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation);
      out[i] = tf.sum(tf.mul(y, dy)).dataSync()[0];
    }
    return out;
  });
}

function shapes(c: Case) {
  const filterShape: [number, number, number, number] = [c.k, c.k, c.x[3], c.mult];
  const info = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.stride, c.dilation, c.pad, undefined, true);
  const dyShape = [c.x[0], info.outHeight, info.outWidth, c.x[3] * c.mult];
  return { filterShape, dyShape };
}

describe('wasm depthwise conv backprop kernels match the CPU backend', () => {
  it.each(cases)('filter: x=$x k=$k mult=$mult stride=$stride dilation=$dilation pad=$pad', async (c) => {
    const { filterShape, dyShape } = shapes(c);
    const [err] = await wasmVsCpu(
      () =>
        tf.engine().runKernel(
          'DepthwiseConv2dNativeBackpropFilter',
          { x: tensor(c.x, 1), dy: tensor(dyShape, 2) },
          { strides: c.stride, dilations: c.dilation, pad: c.pad, filterShape },
        ) as tf.Tensor,
    );
    expect(err).toBeLessThan(1e-4);
  });

  it.each(cases)('input: x=$x k=$k mult=$mult stride=$stride dilation=$dilation pad=$pad', async (c) => {
    const { filterShape, dyShape } = shapes(c);
    const [err] = await wasmVsCpu(
      () =>
        tf.engine().runKernel(
          'DepthwiseConv2dNativeBackpropInput',
          { dy: tensor(dyShape, 2), filter: tensor(filterShape, 3) },
          { strides: c.stride, dilations: c.dilation, pad: c.pad, inputShape: c.x },
        ) as tf.Tensor,
    );
    expect(err).toBeLessThan(1e-4);
  });

  it.each(dilatedCases)('dilated, vs forward convs: x=$x k=$k mult=$mult dilation=$dilation pad=$pad', async (c) => {
    const { filterShape, dyShape } = shapes(c);
    await initBackend('cpu');
    const expectedFilter = referenceByLinearity(c, 'filter');
    const expectedInput = referenceByLinearity(c, 'input');
    const [dw, dx] = await runOn('wasm', () => [
      tf.engine().runKernel(
        'DepthwiseConv2dNativeBackpropFilter',
        { x: tensor(c.x, 1), dy: tensor(dyShape, 2) },
        { strides: c.stride, dilations: c.dilation, pad: c.pad, filterShape },
      ) as tf.Tensor,
      tf.engine().runKernel(
        'DepthwiseConv2dNativeBackpropInput',
        { dy: tensor(dyShape, 2), filter: tensor(filterShape, 3) },
        { strides: c.stride, dilations: c.dilation, pad: c.pad, inputShape: c.x },
      ) as tf.Tensor,
    ]);
    expect(relativeError(dw, expectedFilter)).toBeLessThan(1e-4);
    expect(relativeError(dx, expectedInput)).toBeLessThan(1e-4);
  });

  it('gives the hand-computed gradients of a 1-channel 2x2 depthwise filter', async () => {
    // x = [[1,2],[3,4]], w = [[1,0],[0,2]], valid: y = 1*1 + 4*2 = 9.
    // dL/dw = x = [1,2,3,4]; dL/dx = w = [1,0,0,2].
    const [dw, dx] = await runOn('wasm', () => {
      const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
      const w = tf.tensor4d([1, 0, 0, 2], [2, 2, 1, 1]);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid').sum())([x, w]);
      return [gw, gx];
    });
    expect(Array.from(dw)).toEqual([1, 2, 3, 4]);
    expect(Array.from(dx)).toEqual([1, 0, 0, 2]);
  });
});
