import { disposeBatch, type Batch } from '@gaze/data';
import { initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak } from '@gaze/engine/testing';
import type { Classifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { camRawMaps, createExplainer, gradCamWeights } from '../../src/index.js';
import { loadQuickstartClassifier, quickstartTestBatches } from '../helpers/quickstart.js';

let classifier: Classifier;
const batches: Batch[] = [];

beforeAll(async () => {
  await initBackend('wasm');
  classifier = await loadQuickstartClassifier();
  batches.push(...(await quickstartTestBatches(32, 8))); // 256 test images
});

afterAll(() => {
  batches.forEach(disposeBatch);
  classifier?.dispose();
});

/** The target's box of image i (pixel-edge coordinates: x0 <= x < x1). */
function targetBox(batch: Batch, i: number, label: number) {
  return batch.boxes![i].find((b) => b.label === label)!;
}

/** Pointing-game hits of the maps' argmax pixels: strictly inside the box, and within `tolerance` px of it. */
function pointingHits(maps: tf.Tensor3D, batch: Batch, tolerance: number): { strict: number; tolerant: number } {
  const [B, H, W] = maps.shape;
  const arg = tf.tidy(() => tf.argMax(tf.reshape(maps, [B, H * W]), 1).dataSync());
  const labels = batch.labels.dataSync();
  let strict = 0;
  let tolerant = 0;
  for (let i = 0; i < B; i++) {
    const [y, x] = [Math.floor(arg[i] / W), arg[i] % W];
    const box = targetBox(batch, i, labels[i]);
    if (box.x0 <= x && x < box.x1 && box.y0 <= y && y < box.y1) strict++;
    const dx = Math.max(box.x0 - (x + 0.5), 0, x + 0.5 - box.x1);
    const dy = Math.max(box.y0 - (y + 0.5), 0, y + 0.5 - box.y1);
    if (Math.hypot(dx, dy) <= tolerance) tolerant++;
  }
  return { strict, tolerant };
}

describe('Grad-CAM on the quickstart classifier (acceptance)', () => {
  it('points at the target object: hit rates per tap on 256 test images', async () => {
    // The pointing game's tolerance, 15 px at 224 (TorchRay / EBP, as @gaze/metrics uses it),
    // scaled to 32 px: 2.14 px.
    const tolerance = (15 * 32) / 224;
    const rates: Record<string, { strict: number; tolerant: number; cell: number }> = {};
    for (const layer of classifier.taps) {
      const explainer = createExplainer({ type: 'gradcam', layer }, { classifier, seed: 0, where: 'explainers.0' });
      let [strict, tolerant, cell, total] = [0, 0, 0, 0];
      for (const batch of batches) {
        const maps = await explainer.explain(batch.images, batch.labels);
        const hits = pointingHits(maps, batch, tolerance);
        strict += hits.strict;
        tolerant += hits.tolerant;
        // the argmax cell of the raw (pre-upsampling) map overlaps the target's box
        const raw = camRawMaps(classifier, batch.images, batch.labels, layer, gradCamWeights);
        const [B, h, w] = raw.shape;
        const arg = tf.tidy(() => tf.argMax(tf.reshape(raw, [B, h * w]), 1).dataSync());
        const labels = batch.labels.dataSync();
        for (let i = 0; i < B; i++) {
          const [cy, cx, sy, sx] = [Math.floor(arg[i] / w), arg[i] % w, 32 / h, 32 / w];
          const box = targetBox(batch, i, labels[i]);
          if (box.x0 < (cx + 1) * sx && cx * sx < box.x1 && box.y0 < (cy + 1) * sy && cy * sy < box.y1) cell++;
        }
        total += B;
        tf.dispose([maps, raw]);
      }
      rates[layer] = { strict: strict / total, tolerant: tolerant / total, cell: cell / total };
    }
    console.log('Grad-CAM pointing hit rates (argmax in box / within 2.14 px / argmax cell overlaps box):', JSON.stringify(rates));
    // Measured (1000 test images, argmax pixel inside the target's box): block1.conv .74, block1 .69,
    // block2.conv .885, block2 .79, block3.conv .705, block3 .60.
    // The acceptance check: at the last conv layer of block 2 (16x16 cells of 2 px), Grad-CAM's
    // maximum lies inside the target's box for at least 80% of the images.
    expect(rates['block2.conv'].strict).toBeGreaterThanOrEqual(0.8);
    // At block 3 (8x8 before the pool, 4x4 after) the cells are 4 and 8 px wide against objects of
    // ~10 px (median box area 110 px^2): the argmax cell mostly overlaps the box, but the upsampled
    // peak often lands beside the object.
    expect(rates.block3.cell).toBeGreaterThanOrEqual(0.9);
    expect(rates['block3.conv'].strict).toBeGreaterThanOrEqual(0.6);
  });
});

describe('the other methods on the quickstart classifier', () => {
  it('localize the target on 32 test images (argmax within the pointing tolerance)', async () => {
    const tolerance = (15 * 32) / 224;
    const batch = batches[0];
    const configs = [
      { type: 'gradcam++', layer: 'block2.conv' },
      { type: 'layercam', layer: 'block2.conv' },
      { type: 'scorecam' },
      { type: 'scorecam', variant: 'tame' },
      { type: 'occlusion' },
      { type: 'rise', n: 500 },
    ];
    const rates: Record<string, number> = {};
    for (const config of configs) {
      const explainer = createExplainer(config, { classifier, seed: 0, where: 'explainers.0' });
      const maps = await explainer.explain(batch.images, batch.labels);
      const v = maps.dataSync();
      expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...v)).toBeLessThanOrEqual(1);
      rates[JSON.stringify(config)] = pointingHits(maps, batch, tolerance).tolerant / 32;
      maps.dispose();
    }
    console.log('pointing hit rates (32 images, tolerance 2.14 px):', JSON.stringify(rates));
    for (const rate of Object.values(rates)) expect(rate).toBeGreaterThanOrEqual(0.8);
  });

  it('leak no tensors on the quickstart classifier', async () => {
    const images = batches[0].images.slice(0, 4);
    const labels = batches[0].labels.slice(0, 4);
    const configs = [{ type: 'gradcam' }, { type: 'gradcam++' }, { type: 'layercam' }, { type: 'scorecam' }, { type: 'scorecam', variant: 'tame' }, { type: 'rise', n: 64 }, { type: 'occlusion' }];
    for (const config of configs) {
      const explainer = createExplainer(config, { classifier, seed: 0, where: 'explainers.0' });
      const before = tf.memory().numTensors;
      const maps = await explainer.explain(images, labels);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(maps.shape).toEqual([4, 32, 32]);
      maps.dispose();
      await assertNoTensorLeak(() => explainer.explain(images, labels), { runs: 2, label: config.type });
      explainer.dispose?.();
    }
    tf.dispose([images, labels]);
  });
});
