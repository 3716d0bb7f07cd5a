import { describe, expect, it } from 'vitest';
import { initBackend, nativeKernelStatus, tf } from '../../src/index.js';
import { NATIVE_MIN_ELEMENTS } from '../../src/kernels/native-elementwise.js';
import { relativeError, runOn, tensor, values, wasmVsCpu } from '../helpers/backends.js';

// The oneDNN sums, broadcasting binary ops, ReLU (and its gradient) and max pooling on wasm must
// match the CPU backend, on tensors large enough to take the native path and on the shapes that
// fall back to wasm. Skipped where the addon is not built, unless GAZE_REQUIRE_NATIVE=1 (CI).
await initBackend('wasm');
const status = nativeKernelStatus();
const SKIP = !status.active && process.env.GAZE_REQUIRE_NATIVE !== '1';
if (SKIP) console.warn(`[@gaze/engine] skipping the native elementwise tests: ${status.detail}`);

const BIG = [8, 32, 32, 16];

describe.skipIf(SKIP)('oneDNN reductions, binary ops, ReLU and pooling on wasm', () => {
  it('takes tensors of the test size natively', () => {
    expect(BIG.reduce((a, b) => a * b)).toBeGreaterThanOrEqual(NATIVE_MIN_ELEMENTS);
    expect(status.detail).toContain('Sum');
  });

  it.each([
    ['leading axes (a conv bias gradient)', [0, 1, 2], false],
    ['the last axis', [3], false],
    ['middle axes, kept', [1, 2], true],
    ['a negative axis', [-2], false],
    ['every axis', [0, 1, 2, 3], false],
    ['non-contiguous axes (wasm)', [0, 2], false],
  ] as const)('Sum over %s matches the CPU backend', async (_name, axes, keepDims) => {
    const [error] = await wasmVsCpu(() => tf.sum(tf.add(tensor(BIG, 1), 0.25), [...axes], keepDims));
    expect(error).toBeLessThan(1e-5);
  });

  it.each([
    ['middle axes (global average pooling)', [1, 2], true],
    ['the last axis', [3], false],
  ] as const)('Mean over %s matches the CPU backend', async (_name, axes, keepDims) => {
    const [error] = await wasmVsCpu(() => tf.mean(tensor(BIG, 3), [...axes], keepDims));
    expect(error).toBeLessThan(1e-5);
  });

  it('a Sum has the exact value of a hand-computed case', async () => {
    // 4096 x 16 ones times the column index: column c sums to 4096 * c.
    const [sums] = await runOn('wasm', () => tf.sum(tf.mul(tf.ones([4096, 16]), tf.range(0, 16)), 0));
    expect(Array.from(sums)).toEqual(Array.from({ length: 16 }, (_, c) => 4096 * c));
  });

  const big = (salt: number) => tensor(BIG, salt);
  const positive = (shape: number[], salt: number) => tf.add(tf.abs(tensor(shape, salt)), 0.5);
  it.each([
    ['Add, bias [C]', () => tf.add(big(1), tensor([16], 2))],
    ['Add, broadcast first operand (swapped)', () => tf.add(tensor([16], 2), big(1))],
    ['Multiply, same shapes', () => tf.mul(big(1), big(3))],
    ['Sub, [1,H,1,C]', () => tf.sub(big(1), tensor([1, 32, 1, 16], 4))],
    ['Sub, broadcast first operand (wasm)', () => tf.sub(tensor([16], 2), big(1))],
    ['RealDiv, [B,1,1,C]', () => tf.div(big(1), positive([8, 1, 1, 16], 5))],
    ['Maximum', () => tf.maximum(big(1), big(6))],
    ['Minimum, scalar', () => tf.minimum(big(1), tf.scalar(0.1))],
    ['Multiply, per-image [B,1,1] (oneDNN declines: reference loop only)', () => tf.mul(tensor([32, 64, 64], 1), positive([32, 1, 1], 2))],
    ['Add, small (wasm)', () => tf.add(tensor([4, 4], 1), tensor([4], 2))],
  ] as const)('%s matches the CPU backend', async (_name, compute) => {
    const [error] = await wasmVsCpu(compute);
    expect(error).toBeLessThan(1e-6);
  });

  it.each([
    ['[256,128] x [128,96]', [256, 128], [128, 96], false, false],
    ['transposed a', [128, 256], [128, 96], true, false],
    ['transposed b', [256, 128], [96, 128], false, true],
    ['both transposed, batched', [4, 128, 64], [4, 96, 128], true, true],
    ['a batch of 1 broadcast', [1, 64, 128], [6, 128, 80], false, false],
    ['small (wasm)', [8, 4], [4, 3], false, false],
  ] as const)('MatMul %s matches the CPU backend', async (_name, sa, sb, ta, tb) => {
    const [error] = await wasmVsCpu(() => tf.matMul(tensor([...sa], 1), tensor([...sb], 2), ta, tb));
    expect(error).toBeLessThan(1e-5);
  });

  it.each([
    ['up 8 -> 32', [8, 8, 8, 64], [32, 32]],
    ['down 32 -> 12', [4, 32, 32, 32], [12, 12]],
    ['up, uneven 7x9 -> 20x30', [8, 7, 9, 64], [20, 30]],
  ] as const)('bilinear resize %s with half-pixel centres and its gradient match the CPU backend', async (_name, shape, size) => {
    const compute = () => {
      const x = tensor([...shape], 1) as tf.Tensor4D;
      const w = tensor([shape[0], size[0], size[1], shape[3]], 2);
      const resize = (v: tf.Tensor4D) => tf.image.resizeBilinear(v, [...size], false, true);
      return [resize(x), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(resize(v as tf.Tensor4D), w)))(x)];
    };
    const cpu = await runOn('cpu', compute);
    const wasm = await runOn('wasm', compute);
    expect(relativeError(wasm[0], cpu[0])).toBeLessThan(1e-5);
    expect(relativeError(wasm[1], cpu[1])).toBeLessThan(1e-5);
  });

  it('ReLU and its gradient match the CPU backend, zeros included', async () => {
    const compute = () => {
      // A third of the inputs exactly 0, where the gradient is 0 on both backends.
      const x = tf.mul(tensor(BIG, 1), tf.cast(tf.greater(tensor(BIG, 7), -0.33), 'float32'));
      const w = tensor(BIG, 2);
      const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), w)))(x);
      return [tf.relu(x), dx];
    };
    const cpu = await runOn('cpu', compute);
    const wasm = await runOn('wasm', compute);
    expect(relativeError(wasm[0], cpu[0])).toBe(0);
    expect(relativeError(wasm[1], cpu[1])).toBe(0);
  });

  it("ReLU's gradient has a gradient itself (second derivatives)", async () => {
    // g(w) = sum(d/dx[sum(relu(x) * w)] * v) = sum(step(x) * w * v), so dg/dw = step(x) * v.
    const x = values(BIG.reduce((a, b) => a * b), 1);
    const v = values(x.length, 3);
    const [dgdw] = await runOn('wasm', () => {
      const xt = tf.tensor(x, BIG);
      const vt = tf.tensor(v, BIG);
      const g = (w: tf.Tensor) => tf.sum(tf.mul(tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.relu(u), w)))(xt), vt));
      return tf.grad(g)(tensor(BIG, 2));
    });
    const expected = x.map((xi, i) => (xi > 0 ? v[i] : 0));
    expect(relativeError(dgdw, expected)).toBeLessThan(1e-7);
  });

  it.each([
    ['2x2 stride 2 valid', [2, 2], 2, 'valid', [8, 32, 32, 16]],
    ['3x3 stride 1 same', [3, 3], 1, 'same', [8, 32, 32, 16]],
    ['3x3 stride 2 same, odd size', [3, 3], 2, 'same', [8, 33, 31, 16]],
  ] as const)('MaxPool %s matches the CPU backend', async (_name, window, stride, pad, shape) => {
    const [error] = await wasmVsCpu(() => tf.maxPool(tensor([...shape], 1) as tf.Tensor4D, [...window], stride, pad));
    expect(error).toBe(0);
  });
});

describe('Identity and same-dtype Cast on wasm share data', () => {
  it('a clone survives its source, and both free their memory', async () => {
    await initBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const before = backend.numDataIds();
    const x = tf.tensor([1.5, -2, 3]);
    const y = tf.clone(x);
    const z = tf.cast(x, 'float32');
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1.5, -2, 3]);
    expect(Array.from(z.dataSync())).toEqual([1.5, -2, 3]);
    y.dispose();
    expect(backend.numDataIds()).toBe(before + 1);
    z.dispose();
    expect(backend.numDataIds()).toBe(before);
  });

  it('a cast to another dtype still converts', async () => {
    await initBackend('wasm');
    const x = tf.tensor([1.7, -2.2, 0]);
    const cast = tf.cast(x, 'int32');
    expect(cast.dtype).toBe('int32');
    expect(Array.from(cast.dataSync())).toEqual([1, -2, 0]);
    const bool = tf.cast(x, 'bool');
    expect(Array.from(bool.dataSync())).toEqual([1, 1, 0]);
    tf.dispose([x, cast, bool]);
  });
});
