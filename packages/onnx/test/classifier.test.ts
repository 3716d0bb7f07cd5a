import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak, gazeError } from '@gaze/engine/testing';
import { createClassifier, loadClassifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_MEAN, IMAGENET_STD, loadOnnxClassifier, OnnxClassifier } from '../src/index.js';
import { IDENTITY_PREPROCESS, writeModel, type ModelSpec, convReference, nchw, noise, type Nchw, tinyCnn } from '../src/testing/index.js';

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-onnx-classifier-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function weights(spec: ModelSpec, name: string): Nchw {
  const t = spec.initializers!.find((i) => i.name === name)!;
  const dims = [...t.dims, 1, 1, 1, 1].slice(0, 4) as [number, number, number, number];
  return { shape: dims, data: Float32Array.from(t.data) };
}

/** The tiny CNN's pre-softmax logits and its last feature map, by plain loops (NCHW). */
function reference(spec: ModelSpec, x: Nchw): { logits: number[][]; last: Nchw } {
  const relu = (t: Nchw): Nchw => ({ shape: t.shape, data: t.data.map((v) => Math.max(v, 0)) });
  const same = { strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 };
  let h = relu(convReference(x, weights(spec, 'features.0.weight'), Float32Array.from(spec.initializers![1].data), same));
  h = relu(convReference(h, weights(spec, 'features.2.weight'), undefined, same));
  const last = relu(convReference(h, weights(spec, 'block.conv.weight'), undefined, { ...same, pads: [0, 0, 0, 0] }));
  const [n, c, hh, ww] = last.shape;
  const fc = spec.initializers!.find((i) => i.name === 'fc.weight')!.data;
  const fcb = spec.initializers!.find((i) => i.name === 'fc.bias')!.data;
  const logits = Array.from({ length: n }, (_, b) => {
    const pooled = Array.from({ length: c }, (_, k) => last.data.slice((b * c + k) * hh * ww, (b * c + k + 1) * hh * ww).reduce((s, v) => s + v, 0) / (hh * ww));
    return Array.from({ length: 5 }, (_, j) => pooled.reduce((s, p, k) => s + p * fc[j * 4 + k], fcb[j]));
  });
  return { logits, last };
}

function nhwcOf(x: Nchw): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(x.data, x.shape), [0, 2, 3, 1]) as tf.Tensor4D);
}

describe('OnnxClassifier', () => {
  const spec = tinyCnn();
  const x = nchw([3, 3, 8, 8], (i) => (noise(i, 11) + 1) / 2);

  it('gives the logits before the final softmax, taps by module path (a module called twice is its last call), the CAM tap by default', () => {
    const file = writeModel(join(root, 'tiny.onnx'), spec);
    const c = loadOnnxClassifier(file, { preprocess: IDENTITY_PREPROCESS });
    expect(c.spec.logits).toBe('/fc/Gemm_output_0');
    expect(c.numClasses).toBe(5);
    expect(c.inputShape).toEqual([8, 8, 3]);
    // the last feature map before the global pooling, named by its module
    expect(c.camTap).toBe('relu');
    expect(c.tap('relu').value).toBe('/relu_1/Relu_output_0');
    expect(c.map.modulePaths()).toEqual(['features.0', 'features.1', 'features.2', 'features', 'block.conv', 'block', 'relu', 'avgpool', 'fc']);
    expect(c.parameterCount).toBe(4 * 27 + 4 + 4 * 36 + 16 + 20 + 5);

    const ref = reference(spec, x);
    const input = nhwcOf(x);
    const { logits, features } = c.forward(input, ['relu']);
    const got = logits.arraySync();
    for (let b = 0; b < 3; b++) for (let j = 0; j < 5; j++) expect(got[b][j]).toBeCloseTo(ref.logits[b][j], 5);
    const mapNchw = tf.transpose(features.relu, [0, 3, 1, 2]).dataSync();
    expect(Math.max(...mapNchw.map((v, i) => Math.abs(v - ref.last.data[i])))).toBeLessThan(1e-5);
    tf.dispose([logits, features.relu, input]);
    c.dispose();
  });

  it('normalizes with torchvision\'s ImageNet mean/std unless told otherwise', async () => {
    const file = writeModel(join(root, 'tiny-pre.onnx'), spec);
    const c = (await createClassifier({ type: 'onnx', path: file }, { inputShape: [8, 8, 3], numClasses: 5 })) as OnnxClassifier;
    expect(c.spec.preprocess.mean).toEqual(IMAGENET_MEAN);
    const normalized = nchw([3, 3, 8, 8], (i) => (x.data[i] - IMAGENET_MEAN[Math.floor(i / 64) % 3]) / IMAGENET_STD[Math.floor(i / 64) % 3]);
    const ref = reference(spec, normalized);
    const input = nhwcOf(x);
    const got = c.logits(input).arraySync();
    for (let b = 0; b < 3; b++) for (let j = 0; j < 5; j++) expect(got[b][j]).toBeCloseTo(ref.logits[b][j], 4);
    input.dispose();
    c.dispose();
  });

  it('logitsWithTap with the tap\'s own value gives the logits; its gradient is Grad-CAM\'s dy/dA; nothing leaks', async () => {
    const file = writeModel(join(root, 'tiny-tap.onnx'), spec);
    const c = loadOnnxClassifier(file, { preprocess: IDENTITY_PREPROCESS, taps: ['features', 'relu'] });
    const input = nhwcOf(x);
    const a = c.features(input, ['features']).features;
    const again = c.logitsWithTap(input, 'features', a);
    const plain = c.logits(input);
    expect(Math.max(...(tf.sub(again, plain).abs().dataSync() as Float32Array))).toBeLessThan(1e-6);
    // Scaling the tap by 0 leaves only the constant path: every logit equals the fc bias.
    const zero = c.logitsWithTap(input, 'features', tf.zerosLike(a) as tf.Tensor4D).arraySync();
    const bias = Array.from(spec.initializers!.find((i) => i.name === 'fc.bias')!.data);
    zero[0].forEach((v, j) => expect(v).toBeCloseTo(bias[j], 5));
    await assertNoTensorLeak(() => [c.logitsWithTap(input, 'features', a), c.forward(input, ['features', 'relu'])]);
    tf.dispose([a, again, plain, input]);
    c.dispose();
  });

  it('explains tap errors: unknown module (with a did-you-mean), an output that is no feature map', async () => {
    const file = writeModel(join(root, 'tiny-err.onnx'), spec);
    const unknown = await gazeError(() => loadOnnxClassifier(file, { preprocess: IDENTITY_PREPROCESS, taps: ['featurs'], where: 'backbone' }));
    expect(unknown.message).toContain("no module 'featurs' (did you mean 'features'?)");
    expect(unknown.where).toBe('backbone.taps.0');
    expect(unknown.hint).toContain('gaze model inspect');
    const flat = await gazeError(() => loadOnnxClassifier(file, { preprocess: IDENTITY_PREPROCESS, taps: ['fc'] }));
    expect(flat.message).toContain("'fc' outputs [1,5]");
    const size = await gazeError(() => createClassifier({ type: 'onnx', path: file }, { inputShape: [16, 16, 3], numClasses: 5 }));
    expect(size.message).toContain('the model takes 3x8x8 images');
    expect(size.hint).toContain('center-crop');
    const classes = await gazeError(() => createClassifier({ type: 'onnx', path: file }, { inputShape: [8, 8, 3], numClasses: 10 }));
    expect(classes.message).toContain('the model scores 5 classes but the dataset has 10');
  });

  it('runs a model exported with a fixed batch of 1 (batch baked into a Reshape) image by image', () => {
    const fixed = tinyCnn({ batch: 1, reshape: true });
    const c = loadOnnxClassifier(writeModel(join(root, 'fixed.onnx'), fixed), { preprocess: IDENTITY_PREPROCESS });
    expect(c.spec.fixedBatch).toBe(1);
    const input = nhwcOf(x);
    const got = c.logits(input).arraySync();
    const ref = reference(fixed, x);
    for (let b = 0; b < 3; b++) for (let j = 0; j < 5; j++) expect(got[b][j]).toBeCloseTo(ref.logits[b][j], 5);
    input.dispose();
    c.dispose();
  });

  it('saves and loads back through loadClassifier; trainable weights train and are saved', async () => {
    const file = writeModel(join(root, 'tiny-save.onnx'), spec);
    const frozen = loadOnnxClassifier(file, { preprocess: IDENTITY_PREPROCESS, taps: ['features'] });
    expect(frozen.trainableWeights).toEqual([]);
    const input = nhwcOf(x);
    await frozen.save(join(root, 'saved-frozen'));
    const back = (await loadClassifier(join(root, 'saved-frozen'))) as OnnxClassifier;
    expect(back.taps).toEqual(['features']);
    expect(Math.max(...(tf.sub(back.logits(input), frozen.logits(input)).abs().dataSync() as Float32Array))).toBeLessThan(1e-6);

    const trainable = loadOnnxClassifier(file, { preprocess: IDENTITY_PREPROCESS, trainable: true, config: { path: file, trainable: true, preprocess: IDENTITY_PREPROCESS } });
    // two conv filters, a conv bias, the 1x1 filter, the fc matrix and bias
    expect(trainable.trainableWeights.length).toBe(6);
    const before = trainable.logits(input).dataSync().slice();
    const optimizer = tf.train.sgd(0.5);
    optimizer.minimize(() => tf.mean(tf.square(trainable.logits(input))) as tf.Scalar, false, trainable.trainableWeights);
    const after = trainable.logits(input).dataSync();
    expect(Math.max(...after.map((v, i) => Math.abs(v - before[i])))).toBeGreaterThan(1e-3);
    await trainable.save(join(root, 'saved-trained'));
    const reloaded = await loadClassifier(join(root, 'saved-trained'));
    expect(Math.max(...(reloaded.logits(input).dataSync() as Float32Array).map((v, i) => Math.abs(v - after[i])))).toBeLessThan(1e-6);
    optimizer.dispose();
    [frozen, back, trainable, reloaded].forEach((m) => m.dispose());
    input.dispose();
    writeFileSync(join(root, 'done'), '');
  });
});
