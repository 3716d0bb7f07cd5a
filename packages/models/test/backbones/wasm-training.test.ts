import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, saveLayersModel, seed, tf, unseed } from '@gaze/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClassifier, type Classifier } from '../../src/index.js';
import { context, images } from './helpers.js';

// Every backbone must train on wasm, the backend every machine has: the engine registers the
// gradient kernels wasm lacks, and these tests catch a layer whose gradient is still missing.

const SHAPE: [number, number, number] = [16, 16, 3];
const CLASSES = 4;

let root = '';

beforeAll(async () => {
  await initBackend('wasm');
  // A small Keras-like model on disk for layers-model.
  root = await mkdtemp(join(tmpdir(), 'gaze-models-'));
  const input = tf.input({ shape: SHAPE });
  let h = tf.layers.conv2d({ name: 'conv', filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: 3 }) }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization({ name: 'bn' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten({ name: 'flatten' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'predictions', units: CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  await saveLayersModel(model, join(root, 'model'));
  model.dispose();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const configs: Record<string, () => Record<string, unknown>> = {
  'vgg-small': () => ({ type: 'vgg-small', channels: [8, 16], convsPerBlock: 2 }),
  'vgg-small with batch norm and dropout': () => ({ type: 'vgg-small', channels: [8, 16], batchNorm: true, dropout: 0.2 }),
  'resnet-small': () => ({ type: 'resnet-small', channels: [8, 16], blocksPerStage: 1 }),
  'layers-model': () => ({ type: 'layers-model', path: join(root, 'model'), taps: ['conv', 'pool'], logitsLayer: 'predictions', preprocess: { scale: 255, mean: [120], std: [60] } }),
};

function batch(): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return { x: images([8, ...SHAPE], 21), y: tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), CLASSES).toFloat() as tf.Tensor2D };
}

const loss = (c: Classifier, x: tf.Tensor4D, y: tf.Tensor2D) => tf.losses.softmaxCrossEntropy(y, c.logits(x, { training: true })) as tf.Scalar;

describe('training every backbone on wasm', () => {
  it.each(Object.keys(configs))('%s: every trainable variable gets a finite, non-zero gradient', async (name) => {
    expect(tf.getBackend()).toBe('wasm');
    const c = await createClassifier(configs[name](), context(SHAPE, CLASSES, { seed: 5 }));
    const { x, y } = batch();
    const { value, grads } = tf.variableGrads(() => loss(c, x, y), c.trainableWeights);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    expect(Object.keys(grads).sort()).toEqual(c.trainableWeights.map((w) => w.name).sort());
    for (const w of c.trainableWeights) {
      const g = grads[w.name].dataSync();
      expect(g.every(Number.isFinite), `${w.name} has a non-finite gradient`).toBe(true);
      expect(g.some((v) => v !== 0), `${w.name} has an all-zero gradient`).toBe(true);
    }
    tf.dispose([value, x, y, grads]);
    c.dispose();
  });

  it.each(Object.keys(configs))('%s: 20 Adam steps on a fixed batch lower the loss', async (name) => {
    const c = await createClassifier(configs[name](), context(SHAPE, CLASSES, { seed: 5 }));
    const { x, y } = batch();
    const optimizer = tf.train.adam(0.01);
    const losses: number[] = [];
    // Dropout draws from Math.random: seed it, or the dropout backbone's losses vary run to run.
    seed(13);
    try {
      for (let step = 0; step < 20; step++) {
        const l = optimizer.minimize(() => loss(c, x, y), true, c.trainableWeights)!;
        losses.push(l.dataSync()[0]);
        l.dispose();
      }
    } finally {
      unseed();
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    // The mean of the last five steps, since one dropout draw can make a single step noisy.
    const last = losses.slice(15).reduce((a, b) => a + b, 0) / 5;
    expect(last).toBeLessThan(0.5 * losses[0]);
    tf.dispose([x, y]);
    optimizer.dispose();
    c.dispose();
  });
});
