import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy, initBackend, readNpy } from '@gaze/engine';
import { explainerTypes } from '@gaze/explainers';
import { createClassifier } from '@gaze/models';
import { noise, tinyCnn, writeModel } from '@gaze/onnx/testing';
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
});
