import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy, initBackend, readNpy, saveLayersModel, tf } from '@gaze/engine';
import { explainerTypes } from '@gaze/explainers';
import { createClassifier } from '@gaze/models';
import { noise, tinyCnn, writeModel } from '@gaze/onnx/testing';
import { parseCsv } from '@gaze/report';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainImages, openImages, openModel } from '../../src/index.js';

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-explain-images-'));
  writeFileSync(join(root, 'batch.npy'), encodeNpy(Float32Array.from({ length: 3 * 3 * 64 }, (_, i) => (noise(i, 4) + 1) / 2), [3, 3, 8, 8]));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Small enough settings that every method runs in a moment on 8x8 images. */
const QUICK: Record<string, Record<string, unknown>> = {
  rise: { n: 16 },
  scorecam: {},
  smoothgrad: { samples: 2 },
  'integrated-gradients': { steps: 4 },
  neuromask: { iterations: 3 },
};

describe('explainImages', () => {
  it('runs every registered explainer on a Gaze classifier, writing one raw map per image', async () => {
    const classifier = await createClassifier({ type: 'vgg-small', channels: [4, 8] }, { inputShape: [8, 8, 3], numClasses: 5, seed: 1 });
    const images = await openImages(join(root, 'batch.npy'), classifier.inputShape);
    for (const method of explainerTypes()) {
      const out = join(root, `gaze-${method}`);
      const result = await explainImages({ classifier, images, method, methodOptions: QUICK[method] ?? {}, target: 'predicted', out, batchSize: 2, overlays: false });
      expect(result.images, method).toBe(3);
      const maps = await readNpy(join(out, 'maps.npy'));
      expect(maps.shape, method).toEqual([3, 8, 8]);
      expect(maps.data.every(Number.isFinite), method).toBe(true);
    }
    classifier.dispose();
  });

  it('runs every registered explainer on an ONNX model', async () => {
    const file = writeModel(join(root, 'tiny.onnx'), tinyCnn());
    const { classifier } = await openModel(file, { rawInput: true });
    const images = await openImages(join(root, 'batch.npy'), classifier.inputShape);
    for (const method of explainerTypes()) {
      const out = join(root, `onnx-${method}`);
      const result = await explainImages({ classifier, images, method, methodOptions: QUICK[method] ?? {}, target: 'predicted', out, batchSize: 3, overlays: false });
      expect(result.images, method).toBe(3);
      expect((await readNpy(join(out, 'maps.npy'))).data.every(Number.isFinite), method).toBe(true);
    }
    classifier.dispose();
  });

  it('stops after the current batch when aborted and keeps the finished images', async () => {
    const classifier = await createClassifier({ type: 'vgg-small', channels: [4, 8] }, { inputShape: [8, 8, 3], numClasses: 5, seed: 1 });
    const images = await openImages(join(root, 'batch.npy'), classifier.inputShape);
    const controller = new AbortController();
    const out = join(root, 'aborted');
    const result = await explainImages({
      classifier, images, method: 'gradcam', target: 'predicted', out, batchSize: 1, overlays: false, signal: controller.signal,
      onProgress: (p) => p.batch === 2 && controller.abort(),
    });
    expect(result.interrupted).toBe(true);
    expect((await readNpy(join(out, 'maps.npy'))).shape).toEqual([2, 8, 8]);
    expect((await readNpy(join(out, 'logits.npy'))).shape).toEqual([2, 5]);
    classifier.dispose();
  });

  it('writes softmax probabilities computed from the logits, and frees the batch when the explainer throws', async () => {
    const classifier = await createClassifier({ type: 'vgg-small', channels: [4, 8] }, { inputShape: [8, 8, 3], numClasses: 5, seed: 1 });
    const images = await openImages(join(root, 'batch.npy'), classifier.inputShape);
    const out = join(root, 'probabilities');
    await explainImages({ classifier, images, method: 'gradcam', target: 3, out, batchSize: 2 });
    const logits = await readNpy(join(out, 'logits.npy'));
    const rows = parseCsv(readFileSync(join(out, 'index.csv'), 'utf8')).slice(1);
    rows.forEach((r, i) => {
      const row = Array.from(logits.data.subarray(i * 5, (i + 1) * 5));
      const sum = row.reduce((a, v) => a + Math.exp(v), 0);
      expect(Number(r[4])).toBeCloseTo(Math.exp(row[3]) / sum, 6);
    });

    // An explainer failing mid-batch leaves no tensor behind.
    const failing = new Proxy(classifier, {
      get(target, key) {
        if (key === 'logitsWithTap') return () => { throw new Error('explainer failed'); };
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const before = tf.memory().numTensors;
    await expect(explainImages({ classifier: failing, images, method: 'gradcam', target: 'predicted', out: join(root, 'failing'), batchSize: 2, overlays: false })).rejects.toThrow('explainer failed');
    expect(tf.memory().numTensors).toBe(before);
    classifier.dispose();
  });
});

describe('openModel', () => {
  it('opens a tfjs layers model ending in a separate Softmax layer in one load, with its own input size and pre-softmax logits', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const conv = tf.layers.conv2d({ name: 'conv', filters: 2, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(input) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
    const fc = tf.layers.dense({ name: 'fc', units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: 'ones' }).apply(pooled) as tf.SymbolicTensor;
    const probs = tf.layers.softmax({ name: 'probs' }).apply(fc) as tf.SymbolicTensor;
    const direct = tf.model({ inputs: input, outputs: probs });
    await saveLayersModel(direct, join(root, 'softmax-layer'));
    const opened = await openModel(join(root, 'softmax-layer', 'model.json'));
    expect(opened.format).toBe('layers-model');
    expect([opened.classifier.inputShape, opened.classifier.numClasses, opened.classifier.taps]).toEqual([[8, 8, 3], 4, ['conv']]);
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const expected = tf.model({ inputs: direct.inputs, outputs: fc }).predict(x) as tf.Tensor;
    const logits = opened.classifier.logits(x);
    const diff = Math.max(...Array.from(logits.dataSync(), (v, i) => Math.abs(v - expected.dataSync()[i])));
    expect(diff).toBeLessThan(1e-5);
    tf.dispose([x, expected, logits]);
    opened.classifier.dispose();
    direct.dispose();
  });
});
