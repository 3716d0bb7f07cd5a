import { describe, expect, it } from 'vitest';
import { conv2dBiasActivation, initBackend, nativeKernelStatus, tf } from '../../src/index.js';
import { relativeError, runOn, tensor } from '../helpers/backends.js';

await initBackend('wasm');
// The one-kernel check needs the oneDNN addon; skipped where it is not built, unless GAZE_REQUIRE_NATIVE=1 (CI).
const NO_NATIVE = !nativeKernelStatus().active && process.env.GAZE_REQUIRE_NATIVE !== '1';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
const CASES: { name: string; x: number[]; f: number[]; strides: number; pad: Pad; activation: 'linear' | 'relu' }[] = [
  { name: '3x3 same, relu', x: [2, 7, 7, 3], f: [3, 3, 3, 5], strides: 1, pad: 'same', activation: 'relu' },
  { name: '3x3 stride 2 valid, linear', x: [2, 9, 8, 4], f: [3, 3, 4, 6], strides: 2, pad: 'valid', activation: 'linear' },
  { name: '1x1 stride 2, relu', x: [1, 8, 8, 6], f: [1, 1, 6, 4], strides: 2, pad: 'valid', activation: 'relu' },
  { name: '7x7 explicit padding 3, stride 2, relu', x: [1, 12, 12, 3], f: [7, 7, 3, 4], strides: 2, pad: [[0, 0], [3, 3], [3, 3], [0, 0]], activation: 'relu' },
];

describe('conv2dBiasActivation', () => {
  for (const c of CASES) {
    // The reference: the unfused ops on the plain-JavaScript backend, whose gradients tfjs tests.
    const reference = () =>
      runOn('cpu', () => {
        const [x, f, b] = [tensor(c.x, 1), tensor(c.f, 2), tensor([c.f[3]], 3)];
        const fn = (x: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => {
          const z = tf.add(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad), b);
          return tf.sum(tf.mul(c.activation === 'relu' ? tf.relu(z) : z, tensor([1, ...z.shape.slice(1)], 4)));
        };
        return tf.grads(fn)([x, f, b]);
      });
    for (const backend of ['cpu', 'wasm'] as const) {
      it(`${backend}: ${c.name}: the gradients of x, filter and bias match the unfused ops'`, async () => {
        const expected = await reference();
        const got = await runOn(backend, () => {
          const [x, f, b] = [tensor(c.x, 1), tensor(c.f, 2), tensor([c.f[3]], 3)];
          const fn = (x: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => {
            const y = conv2dBiasActivation({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, bias: b, strides: c.strides, pad: c.pad, activation: c.activation });
            return tf.sum(tf.mul(y, tensor([1, ...y.shape.slice(1)], 4)));
          };
          return tf.grads(fn)([x, f, b]);
        });
        for (let i = 0; i < 3; i++) expect(relativeError(got[i], expected[i])).toBeLessThan(1e-5);
      });
    }
  }

  for (const backend of ['cpu', 'wasm'] as const) {
    for (const activation of ['linear', 'relu'] as const) {
      it(`${backend}: with a residual term (${activation}): the output and the gradients of x, filter, bias and the term match the unfused ops'`, async () => {
        const shapes = { x: [2, 8, 8, 4], f: [1, 1, 4, 6], add: [2, 4, 4, 6] };
        const compute = (fused: boolean) => () => {
          const [x, f, b, a] = [tensor(shapes.x, 1), tensor(shapes.f, 2), tensor([6], 3), tensor(shapes.add, 5)];
          const forward = (x: tf.Tensor, f: tf.Tensor, b: tf.Tensor, a: tf.Tensor) => {
            if (fused) return conv2dBiasActivation({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, bias: b, add: a as tf.Tensor4D, strides: 2, pad: 'valid', activation });
            const z = tf.add(tf.add(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'valid'), b), a);
            return activation === 'relu' ? tf.relu(z) : z;
          };
          const weights = tensor(shapes.add, 4);
          const grads = tf.grads((x: tf.Tensor, f: tf.Tensor, b: tf.Tensor, a: tf.Tensor) => tf.sum(tf.mul(forward(x, f, b, a), weights)))([x, f, b, a]);
          return [forward(x, f, b, a), ...grads];
        };
        const expected = await runOn('cpu', compute(false));
        const got = await runOn(backend, compute(true));
        for (let i = 0; i < 5; i++) expect(relativeError(got[i], expected[i])).toBeLessThan(1e-5);
      });
    }
  }

  it.skipIf(NO_NATIVE)('wasm: a residual term runs as one kernel (the oneDNN addon), not a conv, an add and a ReLU', async () => {
    await initBackend('wasm');
    const [x, f, a] = [tensor([1, 6, 6, 3], 1) as tf.Tensor4D, tensor([3, 3, 3, 4], 2) as tf.Tensor4D, tensor([1, 6, 6, 4], 5) as tf.Tensor4D];
    const profile = await tf.profile(() => conv2dBiasActivation({ x, filter: f, add: a, strides: 1, pad: 'same', activation: 'relu' }));
    expect(profile.kernels.map((k) => k.name)).toEqual(['GazeConv2DBiasAddActivation']);
    tf.dispose([x, f, a, profile.result as tf.Tensor]);
  });

  it('forwards equal tf.fused.conv2d outside a tape', async () => {
    await initBackend('wasm');
    const [x, f, b] = [tensor([2, 6, 6, 3], 1) as tf.Tensor4D, tensor([3, 3, 3, 4], 2) as tf.Tensor4D, tensor([4], 3)];
    const ours = conv2dBiasActivation({ x, filter: f, bias: b, strides: 1, pad: 'same', activation: 'relu' });
    const theirs = tf.fused.conv2d({ x, filter: f, bias: b, strides: 1, pad: 'same', activation: 'relu' });
    expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
    tf.dispose([x, f, b, ours, theirs]);
  });

  it('a gradient to the input alone computes no filter gradient (tfjs fused conv2d computes one)', async () => {
    await initBackend('wasm');
    const [x, f, b] = [tensor([2, 8, 8, 3], 1) as tf.Tensor4D, tensor([3, 3, 3, 4], 2) as tf.Tensor4D, tensor([4], 3)];
    const kernels = async (conv: (x: tf.Tensor4D) => tf.Tensor) => {
      const profile = await tf.profile(() => tf.grad((x: tf.Tensor) => tf.sum(conv(x as tf.Tensor4D)))(x));
      return profile.kernels.map((k) => k.name);
    };
    const ours = await kernels((x) => conv2dBiasActivation({ x, filter: f, bias: b, strides: 1, pad: 'same' }));
    const theirs = await kernels((x) => tf.fused.conv2d({ x, filter: f, bias: b, strides: 1, pad: 'same' }));
    expect(ours).toContain('Conv2DBackpropInput');
    expect(ours).not.toContain('Conv2DBackpropFilter');
    expect(theirs).toContain('Conv2DBackpropFilter');
    tf.dispose([x, f, b]);
  });

  it('frees every intermediate of a backward pass', async () => {
    await initBackend('wasm');
    const [x, f, b] = [tensor([1, 6, 6, 2], 1) as tf.Tensor4D, tensor([3, 3, 2, 3], 2) as tf.Tensor4D, tensor([3], 3)];
    const before = tf.memory().numTensors;
    const grads = tf.grads((x: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.sum(conv2dBiasActivation({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, bias: b, strides: 1, pad: 'same', activation: 'relu' })))([x, f, b]);
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose([...grads, x, f, b]);
  });
});
