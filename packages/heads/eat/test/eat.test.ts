import { createDataset, disposeBatch, type Batch, type Dataset } from '@gaze/data';
import { GazeError, initBackend, tf } from '@gaze/engine';
import { createClassifier, headFactory, type Classifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { EatConfig, EatHead, attributeLoss, averagePrecision, textualExplanation } from '../src/index.js';

let dataset: Dataset;
let batch: Batch;
let classifier: Classifier;

beforeAll(async () => {
  await initBackend('wasm');
  dataset = await createDataset({ type: 'shapes', size: 16, classes: 3, splits: { train: 16, val: 4, test: 12 } }, { seed: 0 });
  for await (const b of dataset.split('train').batches({ batchSize: 8 })) {
    batch = b;
    break;
  }
  classifier = await createClassifier({ type: 'vgg-small', channels: [4, 8] }, { inputShape: [16, 16, 3], numClasses: 3, seed: 0 });
});

afterAll(() => {
  disposeBatch(batch);
  classifier.dispose();
});

const make = (config: z.input<typeof EatConfig> = {}) => EatHead.create(classifier, EatConfig.parse(config), { seed: 1, where: 'heads.0', info: dataset.info });

describe('attributeLoss and averagePrecision', () => {
  it('is the mean binary cross-entropy of the logits', () => {
    // sigmoid(0) = 0.5 -> -log 0.5; z = 2, y = 1 -> -log sigmoid(2); z = -1, y = 1 -> -log sigmoid(-1); z = 3, y = 0 -> -log(1 - sigmoid(3))
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    const expected = (-Math.log(0.5) - Math.log(sig(2)) - Math.log(sig(-1)) - Math.log(1 - sig(3))) / 4;
    expect(attributeLoss(tf.tensor2d([0, 2, -1, 3], [2, 2]), tf.tensor2d([0, 1, 1, 0], [2, 2])).dataSync()[0]).toBeCloseTo(expected, 6);
  });

  it('averages the precision at each positive', () => {
    // ranked: 0.9 (pos), 0.8 (neg), 0.7 (pos) -> (1/1 + 2/3) / 2
    expect(averagePrecision([0.7, 0.9, 0.8], [1, 1, 0])).toBeCloseTo((1 + 2 / 3) / 2, 10);
    expect(averagePrecision([0.1, 0.2], [0, 0])).toBeNaN();
  });
});

describe('textualExplanation', () => {
  it('cites the predicted attributes typical of the class, most probable first', () => {
    const names = ['shape:circle', 'shape:square', 'colour:red', 'texture:stripes', 'size:large'];
    const probs = [0.93, 0.04, 0.88, 0.71, 0.97];
    // typical of the class: circle, red, stripes (stripes in 60% of its images); size in 30%
    const signature = [1, 0, 1, 0.6, 0.3];
    expect(textualExplanation('red circle', names, probs, signature, { threshold: 0.5, count: 3 })).toBe(
      'predicted red circle because it has shape:circle (0.93), colour:red (0.88) and texture:stripes (0.71)',
    );
    expect(textualExplanation('red circle', names, probs, signature, { threshold: 0.9, count: 3 })).toBe('predicted red circle because it has shape:circle (0.93)');
    expect(textualExplanation('red circle', names, [0.1, 0.1, 0.1, 0.1, 0.9], signature, { threshold: 0.5, count: 3 })).toBe(
      'predicted red circle, but none of the attributes typical of red circle is predicted',
    );
  });
});

describe('EatHead', () => {
  it('reports the joint loss CE + w x BCE of the batch it trains on, on a copy of the classifier', async () => {
    const head = await make({ attributeWeight: 0.5 });
    const before = classifier.weights.map((w) => Array.from(w.dataSync()));
    // The loss of the step, computed independently before it (training-mode forward, as the step does).
    const expected = tf.tidy(() => {
      const { logits, features } = head.model.forward(batch.images, [head.tap], { training: true });
      const z = tf.add(tf.matMul(tf.mean(features[head.tap], [1, 2]) as tf.Tensor2D, head.trainableWeights.at(-2)!), head.trainableWeights.at(-1)!) as tf.Tensor2D;
      const ce = tf.mean(tf.neg(tf.sum(tf.mul(tf.oneHot(batch.labels, 3), tf.logSoftmax(logits)), 1))).dataSync()[0];
      return { ce, bce: attributeLoss(z, batch.attributes!).dataSync()[0] };
    });
    const losses = await head.trainStep(batch, { lr: 1e-3 });
    expect(losses.ce).toBeCloseTo(expected.ce, 4);
    expect(losses.attributes).toBeCloseTo(expected.bce, 4);
    expect(losses.loss).toBeCloseTo(expected.ce + 0.5 * expected.bce, 4);
    // the run's classifier is untouched; the copy moved
    classifier.weights.forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(before[i]));
    expect(head.model.weights.some((w, i) => Array.from(w.dataSync()).some((v, j) => v !== before[i][j]))).toBe(true);
    head.dispose();
  });

  it('learns the attributes, explains, grounds, describes and evaluates; nothing leaks', async () => {
    const head = await make({ train: { lr: 0.01 } });
    const first = await head.trainStep(batch, { lr: 0.01 });
    const tensors = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 30; i++) last = await head.trainStep(batch, { lr: 0.01 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(last.attributes).toBeLessThan(first.attributes);
    const maps = await head.explainer('eat').explain(batch.images, batch.labels);
    expect(maps.shape).toEqual([8, 16, 16]);
    expect(Math.max(...maps.dataSync())).toBeLessThanOrEqual(1);
    const grounded = head.attributeMaps(batch.images, 0);
    expect(grounded.shape).toEqual([8, 16, 16]);
    tf.dispose([maps, grounded]);
    const [row] = await head.galleryRows(batch.images, batch.labels, 'eat');
    expect(row.method).toBe('eat attribute');
    expect(row.maps).toHaveLength(8);
    expect(row.captions.every((c) => dataset.info.attributeNames!.includes(c))).toBe(true);
    // image 0's map is the CAM of the attribute its caption names
    const k = dataset.info.attributeNames!.indexOf(row.captions[0]);
    const direct = head.attributeMaps(batch.images, k);
    expect(Array.from(row.maps[0])).toEqual(Array.from(direct.dataSync().slice(0, 256)));
    direct.dispose();
    const lines = await head.describe(batch, dataset.info.classNames);
    expect(lines).toHaveLength(8);
    expect(lines[0]).toMatch(/^shapes\/train\/\d+: predicted /);
    const metrics = await head.evaluate(dataset);
    expect(metrics.map((m) => m.metric)).toEqual(['accuracy', 'attribute_accuracy', 'attribute_map']);
    for (const m of metrics) {
      expect(m.n).toBe(12);
      expect(m.value).toBeGreaterThanOrEqual(0);
      expect(m.value).toBeLessThanOrEqual(1);
    }
    expect(tf.memory().numTensors).toBe(tensors);
    head.dispose();
  });

  it('needs a dataset with attributes', async () => {
    const fashion = { ...dataset.info, type: 'fashion-mnist', attributeNames: undefined, has: { ...dataset.info.has, attributes: false } };
    const error = (await EatHead.create(classifier, EatConfig.parse({}), { seed: 0, where: 'heads.1', info: fashion }).catch((e: unknown) => e)) as GazeError;
    expect(error).toBeInstanceOf(GazeError);
    expect(error.where).toBe('heads.1');
    expect(error.message).toContain("'fashion-mnist' has none");
  });

  it('registers itself as eat', () => {
    expect(headFactory('eat').configSchema).toBe(EatConfig);
  });
});
