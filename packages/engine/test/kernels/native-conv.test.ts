import { describe, expect, it } from 'vitest';
import { backendLine, initBackend, nativeKernelStatus, tf } from '../../src/index.js';
import { wasmVsCpu, tensor } from '../helpers/backends.js';

// The oneDNN convolutions (@gaze/native) on wasm must match the CPU backend. Where the addon is
// not built the suite is skipped with the reason, unless GAZE_REQUIRE_NATIVE=1 (CI), where it fails.
await initBackend('wasm');
const status = nativeKernelStatus();
const REQUIRED = process.env.GAZE_REQUIRE_NATIVE === '1';
const SKIP = !status.active && !REQUIRED;
if (SKIP) console.warn(`[@gaze/engine] skipping the native convolution tests: ${status.detail}`);

const cases = [
  { x: [2, 9, 7, 3], k: [3, 3], co: 5, stride: 1, pad: 'same', dilation: 1 },
  { x: [2, 9, 7, 3], k: [3, 3], co: 5, stride: 2, pad: 'same', dilation: 1 },
  { x: [3, 8, 8, 4], k: [5, 3], co: 6, stride: 1, pad: 'valid', dilation: 1 },
  { x: [2, 10, 9, 2], k: [3, 3], co: 4, stride: 1, pad: 'same', dilation: 2 },
  { x: [2, 9, 7, 2], k: [3, 3], co: 5, stride: 2, pad: 1, dilation: 1 },
  { x: [1, 16, 16, 8], k: [1, 1], co: 16, stride: 2, pad: 'same', dilation: 1 },
] as const;

describe.skipIf(SKIP)(`wasm convolutions on oneDNN (${status.detail})`, () => {
  it('is active, and the backend line of a run says so', async () => {
    expect(status.active, status.detail).toBe(true);
    expect(backendLine(await initBackend('wasm'))).toMatch(/^backend wasm: convolutions on oneDNN \d+\.\d+(\.\d+)? \(the native addon, \d+ thread\(s\) from (all cores|OMP_NUM_THREADS|setNativeThreads)\)$/);
  });

  it.each(cases)('conv2d x=$x k=$k co=$co stride=$stride pad=$pad dilation=$dilation matches the CPU backend', async ({ x, k, co, stride, pad, dilation }) => {
    const [err] = await wasmVsCpu(() => tf.conv2d(tensor([...x], 1) as tf.Tensor4D, tensor([k[0], k[1], x[3], co], 2) as tf.Tensor4D, stride, pad, 'NHWC', dilation));
    expect(err).toBeLessThan(1e-5);
  });

  it.each(['linear', 'relu', 'elu'] as const)('fused conv2d + bias + %s (elu falls back) matches the CPU backend, values and gradients', async (activation) => {
    const errs = await wasmVsCpu(() => {
      const x = tensor([2, 8, 8, 3], 1) as tf.Tensor4D;
      const w = tensor([3, 3, 3, 4], 2) as tf.Tensor4D;
      const b = tensor([4], 3) as tf.Tensor1D;
      const f = (a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.fused.conv2d({ x: a as tf.Tensor4D, filter: ww as tf.Tensor4D, bias: bb, strides: 1, pad: 'same', activation });
      const y = f(x, w, b);
      const [dx, dw, db] = tf.grads((a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(a, ww, bb), tensor([2, 8, 8, 4], 4))))([x, w, b]);
      return [y, dx, dw, db];
    });
    for (const e of errs) expect(e).toBeLessThan(1e-5);
  });

  it.each([
    { x: [2, 8, 8, 3], k: 2, stride: 2, pad: 'valid' },
    { x: [2, 9, 7, 3], k: 3, stride: 2, pad: 'same' },
    { x: [1, 6, 6, 4], k: 3, stride: 1, pad: 'same' },
  ] as const)('max-pool gradient x=$x k=$k stride=$stride pad=$pad matches the CPU backend, ties and all-negative windows included', async ({ x, k, stride, pad }) => {
    const [err] = await wasmVsCpu(() => {
      // Values on a coarse grid (many ties), shifted so some windows are all negative.
      const input = tf.sub(tf.round(tf.mul(tensor([...x], 1), 2)), 1.5) as tf.Tensor4D;
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, k, stride, pad), tensor([...tf.maxPool(input, k, stride, pad).shape], 2))))(input);
    });
    expect(err).toBeLessThan(1e-6);
  });
});
