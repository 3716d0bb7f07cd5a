import { disposeBatch } from '@gaze/data';
import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { camRawMaps, createExplainer, gradCamWeights, inputGradients } from '../src/index.js';
import { loadQuickstartClassifier, quickstartTestBatches } from './helpers/quickstart.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('explain(x, target, { normalize: false })', () => {
  it('gives each method\'s raw map at input resolution; min-max normalizing it gives the default map', async () => {
    const classifier = await loadQuickstartClassifier();
    const [batch] = await quickstartTestBatches(4);
    const x = batch.images;
    const target = batch.labels as tf.Tensor1D;
    for (const entry of [{ type: 'gradcam' }, { type: 'gradient' }, { type: 'occlusion' }, { type: 'rise', n: 64 }]) {
      const explainer = createExplainer(entry, { classifier, seed: 3, where: 'test' });
      const raw = await explainer.explain(x, target, { normalize: false });
      const normalized = await explainer.explain(x, target);
      expect(raw.shape, entry.type).toEqual([4, 32, 32]);
      const renormalized = tf.tidy(() => {
        const min = tf.min(raw, [1, 2], true);
        const max = tf.max(raw, [1, 2], true);
        return tf.div(tf.sub(raw, min), tf.sub(max, min));
      });
      expect(tf.max(tf.abs(tf.sub(renormalized, normalized))).dataSync()[0], entry.type).toBeLessThan(1e-5);
      // The raw map is in the method's units, not [0,1].
      expect(tf.max(raw).dataSync()[0] === 1 && tf.min(raw).dataSync()[0] === 0, entry.type).toBe(false);
      tf.dispose([raw, normalized, renormalized]);
    }
    // Grad-CAM's raw map is ReLU(sum_k w_k A_k) at the tap, upsampled bilinearly.
    const gradcam = createExplainer({ type: 'gradcam' }, { classifier, seed: 0, where: 'test' });
    const raw = await gradcam.explain(x, target, { normalize: false });
    const cam = camRawMaps(classifier, x, target, classifier.camTap!, gradCamWeights);
    // Bilinear upsampling never exceeds the largest cell, and reaches it within a cell of it.
    const rawMax = tf.max(raw, [1, 2]).dataSync();
    const camMax = tf.max(cam, [1, 2]).dataSync();
    for (let i = 0; i < 4; i++) {
      expect(rawMax[i]).toBeLessThanOrEqual(camMax[i] * (1 + 1e-6));
      expect(rawMax[i]).toBeGreaterThan(camMax[i] * 0.5);
    }
    // The raw gradient map is max_c |dy/dx| per pixel.
    const g = createExplainer({ type: 'gradient' }, { classifier, seed: 0, where: 'test' });
    const rawGradient = await g.explain(x, target, { normalize: false });
    const direct = tf.tidy(() => tf.max(tf.abs(inputGradients(classifier, x, target, 'logit')), 3));
    expect(tf.max(tf.abs(tf.sub(rawGradient, direct))).dataSync()[0]).toBeLessThan(1e-7);
    tf.dispose([raw, cam, rawGradient, direct]);
    disposeBatch(batch);
    classifier.dispose();
  });
});
