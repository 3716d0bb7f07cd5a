import { describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/index.js';
import { relativeError, tensor, values } from '../helpers/backends.js';

// The kinds of network this project trains: VGG-style blocks, residual stages with batch norm and
// strided 1x1 shortcuts, depthwise/separable convs, and an attention head that upsamples a map
// and masks the input before a second pass through the classifier (TAME-style).
type Builder = () => { model: tf.LayersModel; loss: (model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor2D) => tf.Scalar };

const ce = (logits: tf.Tensor, y: tf.Tensor2D) => tf.losses.softmaxCrossEntropy(y, logits as tf.Tensor2D) as tf.Scalar;

const builders: Record<string, Builder> = {
  'vgg-style': () => {
    const input = tf.input({ shape: [16, 16, 3] });
    let h = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 4 }).apply(h) as tf.SymbolicTensor;
    return { model: tf.model({ inputs: input, outputs: out }), loss: (m, x, y) => ce(m.apply(x) as tf.Tensor, y) };
  },
  'resnet-style': () => {
    const input = tf.input({ shape: [16, 16, 3] });
    const bnRelu = (t: tf.SymbolicTensor) =>
      tf.layers.activation({ activation: 'relu' }).apply(tf.layers.batchNormalization().apply(t)) as tf.SymbolicTensor;
    let h = bnRelu(tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }).apply(input) as tf.SymbolicTensor);
    let r = bnRelu(tf.layers.conv2d({ filters: 12, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(h) as tf.SymbolicTensor);
    r = tf.layers.batchNormalization().apply(tf.layers.conv2d({ filters: 12, kernelSize: 3, padding: 'same', useBias: false }).apply(r)) as tf.SymbolicTensor;
    const shortcut = tf.layers.conv2d({ filters: 12, kernelSize: 1, strides: 2, useBias: false }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.activation({ activation: 'relu' }).apply(tf.layers.add().apply([r, shortcut])) as tf.SymbolicTensor;
    h = tf.layers.averagePooling2d({ poolSize: 2 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 4 }).apply(h) as tf.SymbolicTensor;
    return { model: tf.model({ inputs: input, outputs: out }), loss: (m, x, y) => ce(m.apply(x, { training: true }) as tf.Tensor, y) };
  },
  'separable-style': () => {
    const input = tf.input({ shape: [16, 16, 3] });
    let h = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.separableConv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.globalMaxPooling2d({}).apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 4 }).apply(h) as tf.SymbolicTensor;
    return { model: tf.model({ inputs: input, outputs: out }), loss: (m, x, y) => ce(m.apply(x) as tf.Tensor, y) };
  },
  'tame-style-masking': () => {
    // Features -> 1x1 conv to one map per class -> sigmoid -> bilinear upsample -> mask the input
    // -> classify the masked image; plus an area term on the map, as TAME's loss has.
    const input = tf.input({ shape: [16, 16, 3] });
    const feat = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    const maps = tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'sigmoid' }).apply(feat) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(feat) as tf.SymbolicTensor;
    const logits = tf.layers.dense({ units: 4 }).apply(pooled) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [maps, logits] });
    return {
      model,
      loss: (m, x, y) => {
        const [a] = m.apply(x) as tf.Tensor[];
        const target = tf.sum(tf.mul(a, y.reshape([y.shape[0], 1, 1, 4])), 3, true) as tf.Tensor4D;
        const up = tf.image.resizeBilinear(target, [16, 16], false, true);
        const [, maskedLogits] = m.apply(tf.mul(x, up)) as tf.Tensor[];
        return tf.add(ce(maskedLogits, y), tf.mul(2, tf.mean(tf.pow(tf.add(a, 5e-4), 0.3)))) as tf.Scalar;
      },
    };
  },
};

function batch(): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const x = tensor([4, 16, 16, 3], 7).add(1).div(2) as tf.Tensor4D;
  return { x, y: tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 4).toFloat() as tf.Tensor2D };
}

/** Builds the model on `backend` with the given initial weights and returns loss + gradients. */
async function gradientsOn(backend: 'cpu' | 'wasm', build: Builder, init: Float32Array[] | undefined) {
  await initBackend(backend);
  const { model, loss } = build();
  const weights = model.trainableWeights;
  if (init) model.setWeights(model.getWeights().map((w, i) => tf.tensor(init[i], w.shape)));
  const initial = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
  const { x, y } = batch();
  const { value, grads } = tf.variableGrads(() => loss(model, x, y), weights.map((w) => w.read() as tf.Variable));
  const result = {
    loss: value.dataSync()[0],
    grads: weights.map((w) => Float32Array.from(grads[(w.read() as tf.Variable).name].dataSync())),
    names: weights.map((w) => w.originalName),
    initial,
  };
  tf.dispose([value, x, y, ...Object.values(grads)]);
  model.dispose();
  return result;
}

describe('training the project model kinds on wasm', () => {
  it.each(Object.keys(builders))('%s: loss and every gradient match the CPU backend', async (name) => {
    const seedWeights = (await initBackend('cpu'), tf.tidy(() => builders[name]().model.getWeights().map((w, i) => values(w.size, i + 3).map((v) => v * 0.4))));
    const cpu = await gradientsOn('cpu', builders[name], seedWeights);
    const wasm = await gradientsOn('wasm', builders[name], seedWeights);
    expect(Math.abs(wasm.loss - cpu.loss) / Math.abs(cpu.loss)).toBeLessThan(1e-4);
    expect(wasm.grads.length).toBeGreaterThan(3);
    wasm.grads.forEach((g, i) => {
      const err = relativeError(g, cpu.grads[i]);
      expect(err, `${cpu.names[i]}: relative error ${err}`).toBeLessThan(1e-4);
    });
  });

  it.each(Object.keys(builders))('%s: Adam steps on wasm lower the loss', async (name) => {
    await initBackend('wasm');
    tf.setBackend('wasm');
    const { model, loss } = builders[name]();
    const { x, y } = batch();
    const optimizer = tf.train.adam(0.01);
    const losses: number[] = [];
    for (let step = 0; step < 8; step++) {
      const l = optimizer.minimize(() => loss(model, x, y), true, model.trainableWeights.map((w) => w.read() as tf.Variable));
      losses.push(l!.dataSync()[0]);
      l!.dispose();
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  });
});
