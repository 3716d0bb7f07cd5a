import { describe, expect, it } from 'vitest';
import { initBackend, nativeKernelStatus, tf } from '../../src/index.js';
import { relativeError, runOn, tensor } from '../helpers/backends.js';

// Training-mode batch norm as one oneDNN op (wasm with @gaze/native) must equal tfjs-layers' own
// computation (moments + batchNorm, differentiated op by op) on the CPU backend: outputs, moving
// averages and gradients. Skipped where the addon is not built, unless GAZE_REQUIRE_NATIVE=1.
await initBackend('wasm');
const status = nativeKernelStatus();
const SKIP = !status.active && process.env.GAZE_REQUIRE_NATIVE !== '1';
if (SKIP) console.warn(`[@gaze/engine] skipping the native batch-norm tests: ${status.detail}`);

/** A BatchNormalization layer's training call: y, moving mean/variance after it, and d(sum(y*w))/d(x, gamma, beta). */
function layerTrainingStep(shape: [number, number, number, number], momentum: number) {
  const layer = tf.layers.batchNormalization({ momentum, epsilon: 1e-3, gammaInitializer: 'randomNormal', betaInitializer: 'randomNormal' });
  const x = tf.add(tf.mul(tensor(shape, 1), 3), 0.5);
  layer.build(x.shape);
  // Deterministic parameters whatever the backend's RNG.
  const c = shape[3];
  layer.setWeights([tensor([c], 2), tensor([c], 3), tensor([c], 4), tf.add(tf.abs(tensor([c], 5)), 0.5)]);
  const w = tensor(shape, 6);
  const [gamma, beta] = layer.trainableWeights.map((v) => v.read());
  const f = (xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx, { training: true }) as tf.Tensor, w));
  const { value, grads } = tf.variableGrads(() => f(x) as tf.Scalar, [gamma, beta].map((g) => layer.trainableWeights.find((v) => v.read() === g)!.read() as tf.Variable));
  const dx = tf.grad(f)(x);
  const y = layer.apply(x, { training: true }) as tf.Tensor;
  const [, , movingMean, movingVariance] = layer.getWeights();
  return [y, value, dx, ...Object.values(grads), movingMean, movingVariance];
}

describe.skipIf(SKIP)('training-mode batch norm on oneDNN', () => {
  it('is active', () => {
    expect(status.detail).toContain('batch norm');
  });

  it.each([
    [[4, 6, 5, 3], 0.9],
    [[2, 3, 3, 8], 0.99],
  ] as const)('a BatchNormalization layer x=%j momentum %f matches the CPU backend: output, loss, dx, dgamma, dbeta, moving statistics', async (shape, momentum) => {
    const cpu = await runOn('cpu', () => layerTrainingStep([...shape], momentum));
    const wasm = await runOn('wasm', () => layerTrainingStep([...shape], momentum));
    const names = ['y', 'loss', 'dx', 'dgamma', 'dbeta', 'moving mean', 'moving variance'];
    wasm.forEach((values, i) => expect(relativeError(values, cpu[i]), names[i]).toBeLessThan(2e-5));
  });

  it('updates the moving statistics in place: a training call is the one batch-norm kernel', async () => {
    await initBackend('wasm');
    const layer = tf.layers.batchNormalization({ momentum: 0.9 });
    const x = tensor([2, 3, 3, 4], 1);
    layer.build(x.shape);
    const profile = await tf.profile(() => layer.apply(x, { training: true }) as tf.Tensor);
    expect(profile.kernels.map((k) => k.name)).toEqual(['GazeBatchNormTraining']);
    tf.dispose([x, profile.result as tf.Tensor, ...layer.weights.map((w) => w.read())]);
  });

  it.each([
    ['[C] parameters', [3, 5, 4, 6], [6], true],
    ['[1,1,1,C] parameters', [2, 4, 4, 5], [1, 1, 1, 5], true],
    ['no scale or offset', [2, 3, 3, 4], [4], false],
  ] as const)('tf.batchNorm with given statistics (%s) matches the CPU backend', async (_name, shape, param, affine) => {
    const wasm = await runOn('wasm', () => [bn(shape, param, affine)]);
    const cpu = await runOn('cpu', () => [bn(shape, param, affine)]);
    expect(relativeError(wasm[0], cpu[0])).toBeLessThan(1e-5);
  });
});

function bn(shape: readonly number[], param: readonly number[], affine: boolean): tf.Tensor {
  const x = tensor([...shape], 1);
  const mean = tensor([...param], 2);
  const variance = tf.add(tf.abs(tensor([...param], 3)), 0.2);
  return tf.batchNorm(x as tf.Tensor4D, mean, variance, affine ? tensor([...param], 4) : undefined, affine ? tensor([...param], 5) : undefined, 1e-3);
}
