import { join } from 'node:path';
import { initBackend, saveLayersModel, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClassifier, loadClassifier, type Classifier } from '../../src/index.js';
import { context, gazeError, images, maxDiff, values, withTmpDir } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** A Keras-like classifier: convs, pooling, GAP and a dense layer with softmax named `predictions`. */
function kerasLike(options: { softmaxLayer?: boolean; classes?: number; shape?: [number, number, number] } = {}): tf.LayersModel {
  const { classes = 3, shape = [8, 8, 3] } = options;
  const seeded = (s: number) => tf.initializers.glorotUniform({ seed: s });
  const input = tf.input({ shape, name: 'input_1' });
  let h = tf.layers.conv2d({ name: 'conv_a', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: seeded(1) }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ name: 'pool_a', poolSize: 2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ name: 'conv_b', filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: seeded(2) }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(h) as tf.SymbolicTensor;
  let out: tf.SymbolicTensor;
  if (options.softmaxLayer) {
    out = tf.layers.dense({ name: 'fc', units: classes, kernelInitializer: seeded(3), biasInitializer: 'ones' }).apply(h) as tf.SymbolicTensor;
    out = tf.layers.activation({ name: 'probs', activation: 'softmax' }).apply(out) as tf.SymbolicTensor;
  } else {
    out = tf.layers.dense({ name: 'predictions', units: classes, activation: 'softmax', kernelInitializer: seeded(3), biasInitializer: 'ones' }).apply(h) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: out });
}

/** Caffe-style preprocessing written out on plain arrays: RGB -> BGR, x255, minus mean, over std. */
function caffe(x: tf.Tensor4D, mean: number[], std: number[]): tf.Tensor4D {
  const v = x.dataSync();
  const out = new Float32Array(v.length);
  for (let p = 0; p < v.length; p += 3) {
    for (let c = 0; c < 3; c++) out[p + c] = (v[p + (2 - c)] * 255 - mean[c]) / std[c];
  }
  return tf.tensor4d(out, x.shape);
}

const MEAN = [103.939, 116.779, 123.68];
const STD = [57.4, 57.1, 58.4];
const PREPROCESS = { scale: 255, channelOrder: 'bgr', mean: MEAN, std: STD };

describe('layers-model', () => {
  it('loads a saved layers model with taps by layer name, caffe-style preprocessing and pre-softmax logits', async () => {
    await withTmpDir(async (root) => {
      const direct = kerasLike();
      await saveLayersModel(direct, join(root, 'keras-like'));
      const c = await createClassifier(
        { type: 'layers-model', path: 'keras-like', taps: ['conv_a', 'conv_b'], preprocess: PREPROCESS, logitsLayer: 'predictions' },
        context([8, 8, 3], 3, { baseDir: root }),
      );
      expect(c.type).toBe('layers-model');
      expect(c.taps).toEqual(['conv_a', 'conv_b']);
      // conv_a + conv_b + dense, all with biases
      expect(c.parameterCount).toBe(3 * 3 * 3 * 4 + 4 + 3 * 3 * 4 * 6 + 6 + 6 * 3 + 3);

      const x = images([2, 8, 8, 3], 9);
      const z = caffe(x, MEAN, STD);
      const layer = (n: string) => direct.getLayer(n).output as tf.SymbolicTensor;
      const sub = tf.model({ inputs: direct.inputs, outputs: [layer('conv_a'), layer('conv_b'), layer('avg_pool')] });
      const [a, b, pooled] = sub.predict(z) as tf.Tensor[];
      const [kernel, bias] = direct.getLayer('predictions').getWeights();
      const expectedLogits = tf.add(tf.matMul(pooled, kernel), bias);

      const { logits, features } = c.forward(x, ['conv_b', 'conv_a']);
      expect(features.conv_a.shape).toEqual([2, 8, 8, 4]);
      expect(features.conv_b.shape).toEqual([2, 4, 4, 6]);
      expect(maxDiff(values(features.conv_a), values(a))).toBeLessThan(1e-4);
      expect(maxDiff(values(features.conv_b), values(b))).toBeLessThan(1e-4);
      expect(maxDiff(values(logits), values(expectedLogits))).toBeLessThan(1e-4);
      // The model's own output is the softmax of those logits.
      const probs = direct.predict(z) as tf.Tensor;
      expect(maxDiff(values(tf.softmax(logits)), values(probs))).toBeLessThan(1e-5);
      expect(values(logits).some((v) => v < 0 || v > 1)).toBe(true);

      // save -> loadClassifier keeps the taps, the preprocessing and the pre-softmax logits
      await c.save(join(root, 'saved'));
      const loaded = await loadClassifier(join(root, 'saved'));
      expect(loaded.taps).toEqual(['conv_a', 'conv_b']);
      expect(values(loaded.logits(x))).toEqual(values(logits));
      tf.dispose([x, z, a, b, pooled, expectedLogits, logits, features, probs]);
      [c, loaded].forEach((m) => m.dispose());
      direct.dispose();
    });
  });

  it('takes the input of a separate softmax layer as the logits, and taps the last 4-D layer by default', async () => {
    await withTmpDir(async (root) => {
      const direct = kerasLike({ softmaxLayer: true });
      await saveLayersModel(direct, root);
      const c = await createClassifier({ type: 'layers-model', path: join(root, 'model.json'), logitsLayer: 'probs' }, context([8, 8, 3], 3));
      expect(c.taps).toEqual(['conv_b']);
      const x = images([2, 8, 8, 3], 10);
      const fc = tf.model({ inputs: direct.inputs, outputs: direct.getLayer('fc').output as tf.SymbolicTensor });
      const expected = fc.predict(x) as tf.Tensor;
      const logits = c.logits(x);
      expect(maxDiff(values(logits), values(expected))).toBeLessThan(1e-5);
      tf.dispose([x, expected, logits]);
      c.dispose();
      direct.dispose();
    });
  });

  it('opened as is: input shape and class count from the model, logits before a separate Softmax layer', async () => {
    await withTmpDir(async (root) => {
      const input = tf.input({ shape: [6, 5, 2] });
      const conv = tf.layers.conv2d({ name: 'conv', filters: 3, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }).apply(input) as tf.SymbolicTensor;
      const pooled = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
      const fc = tf.layers.dense({ name: 'fc', units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }), biasInitializer: 'ones' }).apply(pooled) as tf.SymbolicTensor;
      const probs = tf.layers.softmax({ name: 'probs' }).apply(fc) as tf.SymbolicTensor;
      const direct = tf.model({ inputs: input, outputs: probs });
      await saveLayersModel(direct, root);
      expect(direct.getLayer('probs').getClassName()).toBe('Softmax');

      // Without logitsBeforeActivation the softmax output is still refused.
      const e = await gazeError(() => createClassifier({ type: 'layers-model', path: root }, { where: 'model' }));
      expect(e.where).toBe('model.logitsLayer');
      expect(e.message).toContain("output layer 'probs' applies softmax");

      const c = await createClassifier({ type: 'layers-model', path: root }, { where: 'model', logitsBeforeActivation: true });
      expect([c.inputShape, c.numClasses, c.taps]).toEqual([[6, 5, 2], 4, ['conv']]);
      const x = images([2, 6, 5, 2], 3);
      const expected = tf.model({ inputs: direct.inputs, outputs: fc }).predict(x) as tf.Tensor;
      const logits = c.logits(x);
      expect(maxDiff(values(logits), values(expected))).toBeLessThan(1e-5);
      tf.dispose([x, expected, logits]);
      c.dispose();
      direct.dispose();
    });
  });

  it('only a backbone that loads a model goes without the data\'s shapes', async () => {
    const e = await gazeError(() => createClassifier({ type: 'vgg-small' }, { where: 'model' }));
    expect(e.where).toBe('model');
    expect(e.message).toBe('the vgg-small backbone needs the input shape and class count of the data');
    expect(e.hint).toContain('layers-model');
  });

  it('explains what is wrong with the config or the model', async () => {
    await withTmpDir(async (root) => {
      const direct = kerasLike();
      await saveLayersModel(direct, root);
      direct.dispose();
      const ctx = context([8, 8, 3], 3, { baseDir: root });
      const make = (extra: Record<string, unknown>, c: typeof ctx = ctx): Promise<Classifier> =>
        createClassifier({ type: 'layers-model', path: '.', logitsLayer: 'predictions', ...extra }, c);

      let e = await gazeError(() => make({ taps: ['conv_a', 'conv_bb'] }));
      expect(e.where).toBe('backbone.taps.1');
      expect(e.message).toContain("no layer 'conv_bb' (did you mean 'conv_b'?)");
      expect(e.hint).toBe('layers with 4-D outputs: conv_a, pool_a, conv_b');

      e = await gazeError(() => make({ taps: ['avg_pool'] }));
      expect(e.message).toBe("layer 'avg_pool' outputs [B,6], not a 4-D feature map");

      e = await gazeError(() => make({ logitsLayer: undefined }));
      expect(e.where).toBe('backbone.logitsLayer');
      expect(e.message).toContain("output layer 'predictions' applies softmax");
      expect(e.hint).toContain('logitsLayer: predictions');

      e = await gazeError(() => make({ logitsLayer: 'predictons' }));
      expect(e.message).toContain("did you mean 'predictions'?");

      e = await gazeError(() => make({}, context([16, 16, 3], 3, { baseDir: root })));
      expect(e.message).toContain('takes [B,8,8,3] inputs but the dataset gives 16x16x3 images');
      expect(e.hint).toContain('resize, size: [8, 8]');

      e = await gazeError(() => make({}, context([8, 8, 1], 3, { baseDir: root })));
      expect(e.hint).toContain('3 channel(s)');

      e = await gazeError(() => make({}, context([8, 8, 3], 10, { baseDir: root })));
      expect(e.message).toBe('the model scores 3 classes but the dataset has 10');

      e = await gazeError(() => make({ preprocess: { mean: [1, 2] } }));
      expect(e.where).toBe('backbone.preprocess.mean');

      e = await gazeError(() => make({ preprocess: { channelOrder: 'brg' } }));
      expect(e.where).toBe('backbone.preprocess.channelOrder');

      e = await gazeError(() => make({ path: 'nowhere' }));
      expect(e.where).toBe('backbone.path');
      expect(e.message).toContain('no model.json');

      // A converted model is not a saved classifier.
      e = await gazeError(() => loadClassifier(root));
      expect(e.hint).toContain('type: layers-model');
    });
  });
});
