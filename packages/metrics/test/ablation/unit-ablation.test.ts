import { initBackend, tf } from '@gaze/engine';
import { type Batch, type BatchOptions } from '@gaze/data';
import { LayersClassifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unitAblation } from '../../src/index.js';
import { loadQuickstartClassifier, quickstartDataset } from '../helpers/quickstart.js';

/**
 * 2x2 images with 3 channels -> tap 'features' (a 1x1 conv with the identity kernel, linear) ->
 * global average pooling -> dense with the identity kernel, no bias. So logit k = the mean of
 * channel k: class k depends on channel k alone, and zeroing channel k sets logit k to 0.
 */
function channelClassifier(): LayersClassifier {
  const input = tf.input({ shape: [2, 2, 3] });
  const conv = tf.layers.conv2d({ name: 'features', filters: 3, kernelSize: 1, useBias: false });
  const features = conv.apply(input) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(features) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ name: 'logits', units: 3, useBias: false });
  const logits = dense.apply(gap) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  conv.setWeights([tf.eye(3).reshape([1, 1, 3, 3])]);
  dense.setWeights([tf.eye(3)]);
  return new LayersClassifier(model, {
    version: 1,
    type: 'channel-test',
    inputShape: [2, 2, 3],
    numClasses: 3,
    taps: [{ name: 'features', layer: 'features' }],
    logits: { layer: 'logits', from: 'output' },
    preprocess: { scale: 1, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb' },
  });
}

// Each image is constant over its 4 pixels: [label, [ch0, ch1, ch2]] = its logits.
const IMAGES: [number, number[]][] = [
  [0, [1, 0.2, 0.25]], // A
  [0, [1, 0.3, 0.1]], // B
  [0, [0.9, 0.1, 0.15]], // C
  [1, [0.3, 1, 0.2]], // D
  [1, [1, 0.5, 0.2]], // E: predicted 0 by the intact model (wrong)
  [2, [0.1, 0.2, 1]], // F
];

/** A split over IMAGES, batched as asked. */
const split = {
  size: IMAGES.length,
  async *batches({ batchSize }: BatchOptions): AsyncIterable<Batch> {
    for (let start = 0; start < IMAGES.length; start += batchSize) {
      const part = IMAGES.slice(start, start + batchSize);
      yield {
        images: tf.tensor4d(part.flatMap(([, ch]) => [...ch, ...ch, ...ch, ...ch]), [part.length, 2, 2, 3]),
        labels: tf.tensor1d(
          part.map(([label]) => label),
          'int32',
        ),
        ids: part.map((_, i) => `img${start + i}`),
      };
    }
  },
};

let classifier: LayersClassifier;
beforeAll(async () => {
  await initBackend('wasm');
  classifier = channelClassifier();
});
afterAll(() => classifier.dispose());

// Intact: A, B, C, D, F right, E wrong: 5/6; per class 3/3, 1/2, 1/1.
// Zero channel 0 (logits [0, ch1, ch2]): A -> 2 x, B -> 1 x, C -> 2 x, D -> 1 ok, E -> 1 ok, F -> 2 ok:
//   3/6; per class 0/3, 2/2, 1/1 -> drop 5/6 - 3/6 = 1/3; per class [1, -1/2, 0].
// Zero channel 1: A, B, C ok; D [.3, 0, .2] -> 0 x; E -> 0 x; F ok: 4/6; per class 3/3, 0/2, 1/1 -> drop 1/6; [0, 1/2, 0].
// Zero channel 2: A, B, C, D ok; E -> 0 x; F [.1, .2, 0] -> 1 x: 4/6; per class 3/3, 1/2, 0/1 -> drop 1/6; [0, 0, 1].
// Sorted by drop: unit 0, then the tie 1, 2 by unit.
const EXPECTED = [
  { unit: 0, accuracy: 3 / 6, drop: 5 / 6 - 3 / 6, perClassAccuracy: [0, 1, 1], perClassDrop: [1, 0.5 - 1, 0] },
  { unit: 1, accuracy: 4 / 6, drop: 5 / 6 - 4 / 6, perClassAccuracy: [1, 0, 1], perClassDrop: [0, 0.5, 0] },
  { unit: 2, accuracy: 4 / 6, drop: 5 / 6 - 4 / 6, perClassAccuracy: [1, 0.5, 0], perClassDrop: [0, 0, 1] },
];

describe('unitAblation', () => {
  it('gives the exact accuracy drops when class k depends on channel k alone', async () => {
    // Data batches of 4 + 2 images; 5 ablated images per forward, so chunks straddle units.
    const result = await unitAblation(classifier, split, { tap: 'features', batchSize: 4, forwardBatchSize: 5 });
    expect(result.images).toBe(6);
    expect(result.accuracy).toBeCloseTo(5 / 6, 12);
    expect(result.perClassAccuracy).toEqual([1, 0.5, 1]);
    expect(result.perClassCount).toEqual([3, 2, 1]);
    expect(result.rows.map((r) => r.unit)).toEqual([0, 1, 2]);
    result.rows.forEach((row, i) => {
      const want = EXPECTED[i];
      expect(row.accuracy).toBeCloseTo(want.accuracy, 12);
      expect(row.drop).toBeCloseTo(want.drop, 12);
      expect(row.perClassAccuracy).toEqual(want.perClassAccuracy);
      row.perClassDrop.forEach((d, c) => expect(d).toBeCloseTo(want.perClassDrop[c], 12));
    });
  });

  it('gives the same table whatever the batching, for a subset of units', async () => {
    for (const [batchSize, forwardBatchSize] of [
      [6, 100],
      [1, 1],
      [5, 2],
    ]) {
      const result = await unitAblation(classifier, split, { tap: 'features', units: [2, 0], batchSize, forwardBatchSize });
      expect(result.rows.map((r) => [r.unit, r.accuracy])).toEqual([
        [0, 3 / 6],
        [2, 4 / 6],
      ]);
    }
  });

  it('refuses an unknown tap or unit, and leaks no tensors', async () => {
    await expect(unitAblation(classifier, split, { tap: 'feature' })).rejects.toThrow(/no tap 'feature'/);
    await expect(unitAblation(classifier, split, { tap: 'features', units: [3] })).rejects.toThrow(/unit 3 is not a channel/);
    const before = tf.memory().numTensors;
    await unitAblation(classifier, split, { tap: 'features', batchSize: 4, forwardBatchSize: 5 });
    await unitAblation(classifier, split, { tap: 'features', batchSize: 4, forwardBatchSize: 5 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runs on the quickstart classifier (its deepest tap)', async () => {
    const quickstart = await loadQuickstartClassifier();
    const dataset = await quickstartDataset();
    const test = dataset.split('test');
    const first64 = { size: 64, batches: (o: BatchOptions) => take(test.batches(o), 64 / o.batchSize) };
    const tap = quickstart.taps[quickstart.taps.length - 1];
    const before = tf.memory().numTensors;
    const start = performance.now();
    const result = await unitAblation(quickstart, first64, { tap, batchSize: 32 });
    const seconds = (performance.now() - start) / 1000;
    expect(tf.memory().numTensors).toBe(before);
    expect(result.images).toBe(64);
    expect(result.rows.length).toBe(64); // block3 has 64 channels
    for (let i = 1; i < result.rows.length; i++) expect(result.rows[i - 1].drop).toBeGreaterThanOrEqual(result.rows[i].drop);
    console.log(
      `unit ablation of ${tap} (64 units) on 64 test images: ${seconds.toFixed(2)} s (${((64 * 64) / seconds).toFixed(0)} ablated images/s); ` +
        `intact accuracy ${result.accuracy.toFixed(3)}, largest drop ${result.rows[0].drop.toFixed(3)} (unit ${result.rows[0].unit})`,
    );
    quickstart.dispose();
  });
});

/** The first `count` batches of a stream; the rest are never produced. */
async function* take<T>(source: AsyncIterable<T>, count: number): AsyncIterable<T> {
  if (count <= 0) return;
  let i = 0;
  for await (const item of source) {
    yield item;
    if (++i >= count) return;
  }
}
