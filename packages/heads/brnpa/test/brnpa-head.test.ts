import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataset, disposeBatch, type Batch, type Dataset } from '@gaze/data';
import { initBackend, tf } from '@gaze/engine';
import { createClassifier, headFactory, type Classifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrnpaConfig, BrnpaHead } from '../src/index.js';

let batch: Batch;
let dataset: Dataset;
let classifier: Classifier;

beforeAll(async () => {
  await initBackend('wasm');
  dataset = await createDataset({ type: 'shapes', size: 16, classes: 3, splits: { train: 16, val: 4, test: 8 } }, { seed: 0 });
  for await (const b of dataset.split('train').batches({ batchSize: 16, shuffle: false, augment: false })) batch = b;
  classifier = await createClassifier({ type: 'resnet-small', channels: [8, 8] }, { inputShape: [16, 16, 3], numClasses: 3, seed: 0 });
});

afterAll(() => {
  disposeBatch(batch);
  classifier.dispose();
});

const make = (config: Record<string, unknown> = {}, seed = 1) => BrnpaHead.create(classifier, BrnpaConfig.parse(config), { seed, where: 'heads.0' });

describe('BrnpaHead', () => {
  it('registers itself and classifies from the part vectors with a bias-free linear layer', async () => {
    expect(headFactory('brnpa').configSchema).toBe(BrnpaConfig);
    const head = await make();
    expect(head.tap).toBe('stage2');
    // parts x C inputs, one output per class, no bias.
    expect(head.network.kernel.shape).toEqual([3 * 8, 3]);
    const logits = head.network.logits(batch.images);
    const byHand = tf.tidy(() => {
      const f = head.network.backbone.features(batch.images, ['stage2']).stage2;
      return tf.matMul(head.network.fromFeatures(f).parts.vectors.reshape([16, 24]), head.network.kernel as tf.Tensor2D);
    });
    expect(tf.max(tf.abs(tf.sub(logits, byHand))).dataSync()[0]).toBeLessThan(1e-6);
    tf.dispose([logits, byHand]);
    head.dispose();
  });

  it('trains the copy and the layer (loss falls), not the run classifier nor the copy\'s unused head, and leaks nothing', async () => {
    const head = await make();
    expect(head.trainableWeights.some((v) => v.name.includes('logits'))).toBe(false);
    const before = classifier.weights.map((w) => Array.from(w.dataSync()));
    const first = await head.trainStep(batch, { lr: 0.05 });
    const tensors = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 15; i++) last = await head.trainStep(batch, { lr: 0.05 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(last.loss).toBeLessThan(first.loss * 0.7);
    classifier.weights.forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(before[i]));
    head.dispose();
  });

  it('explains with the sum of the part maps (or the first) and shows each part in the gallery, in rank order', async () => {
    const head = await make({ parts: 2 });
    const target = tf.zeros([16], 'int32') as tf.Tensor1D;
    const parts = head.partMaps(batch.images);
    expect(parts.shape).toEqual([16, 2, 8, 8]);
    const rows = await head.galleryRows(batch.images, target, 'brnpa');
    expect(rows.map((r) => r.method)).toEqual(['brnpa part 1', 'brnpa part 2']);
    expect(rows[0].maps).toHaveLength(16);
    expect(rows[0].maps[0]).toHaveLength(16 * 16);
    const sum = await head.explainer('brnpa').explain(batch.images, target);
    expect(sum.shape).toEqual([16, 16, 16]);
    expect(Math.max(...sum.dataSync())).toBeLessThanOrEqual(1);
    // Part 1's peak holds the largest feature norm of each image.
    const norms = tf.tidy(() => tf.norm(head.network.backbone.features(batch.images, ['stage2']).stage2, 'euclidean', 3).reshape([16, 64]).argMax(1)).arraySync() as number[];
    const peaks = tf.tidy(() => parts.slice([0, 0, 0, 0], [-1, 1, -1, -1]).reshape([16, 64]).argMax(1)).arraySync() as number[];
    expect(peaks).toEqual(norms);
    tf.dispose([target, parts, sum]);
    head.dispose();
  });

  it('saves and loads to the same logits, resuming training exactly; evaluates accuracy and attention cost', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gaze-brnpa-')), 'head');
    const a = await make();
    await a.trainStep(batch, { lr: 0.05 });
    await a.save(dir);
    const b = await make({}, 2);
    await b.load(dir);
    await a.trainStep(batch, { lr: 0.05 });
    await b.trainStep(batch, { lr: 0.05 });
    const [la, lb] = [a.network.logits(batch.images), b.network.logits(batch.images)];
    expect(Array.from(lb.dataSync())).toEqual(Array.from(la.dataSync()));
    tf.dispose([la, lb]);
    const rows = Object.fromEntries((await a.evaluate(dataset)).map((r) => [r.metric, r]));
    expect(rows.accuracy.n).toBe(8);
    expect(rows.attention_parameters.value).toBe(0);
    expect(rows.parametric_attention_parameters.value).toBe(2 * 9 * 64 + 4 * 8 + 8 * 4 + 4);
    const other = await make({ parts: 2 });
    await expect(other.load(dir)).rejects.toThrow(/does not hold this brnpa head/);
    [a, b, other].forEach((h) => h.dispose());
  });
});

describe('BrnpaHead with highResolution', () => {
  it('distils into a finer student after train.epochs: teacher frozen, loss the KL to it, resumable', async () => {
    const { trainHead } = await import('@gaze/models');
    const config = { train: { epochs: 1, batchSize: 16, lr: 0.02 }, highResolution: { epochs: 1 } };
    const head = await make(config);
    expect(head.schedule.epochs).toBe(2);
    const dir = mkdtempSync(join(tmpdir(), 'gaze-brnpa-hr-'));
    const notes: string[] = [];
    await trainHead(head, dataset, { name: 'brnpa', seed: 0, checkpointDir: dir, onEvent: (e) => e.type === 'note' && notes.push(...e.lines) });
    expect(notes).toEqual(['higher resolution: distilling into a student whose stage2 is 16x16 (the network\'s: 8x8)']);
    expect(head.teacher).toBeDefined();
    const fine = head.partMaps(batch.images);
    expect(fine.shape).toEqual([16, 3, 16, 16]);
    fine.dispose();

    // One more step: the loss is KL(teacher || student) (alpha 1, T 1), and the teacher does not move.
    const teacherBefore = head.teacher!.weights.map((w) => Array.from(w.dataSync()));
    const expected = tf.tidy(() => {
      const p = tf.softmax(head.teacher!.logits(batch.images));
      const logQ = tf.logSoftmax(head.network.logits(batch.images, { training: true }));
      return tf.div(tf.sum(tf.mul(p, tf.sub(tf.log(p), logQ))), 16).dataSync()[0];
    });
    const { loss } = await head.trainStep(batch, { lr: 0.01 });
    expect(loss).toBeCloseTo(expected, 4);
    head.teacher!.weights.forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(teacherBefore[i]));

    const again = await make(config, 2);
    await again.load(join(dir, 'last', 'head'));
    expect(again.teacher).toBeDefined();
    const [a, b] = [head.teacher!.logits(batch.images), again.teacher!.logits(batch.images)];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b]);
    head.dispose();
    again.dispose();
  });

  it('needs a resnet-small run backbone to make finer', async () => {
    const vgg = await createClassifier({ type: 'vgg-small', channels: [4] }, { inputShape: [16, 16, 3], numClasses: 3, seed: 0 });
    await expect(BrnpaHead.create(vgg, BrnpaConfig.parse({ highResolution: {} }), { seed: 0, where: 'heads.3' })).rejects.toThrow(/resnet-small/);
    vgg.dispose();
  });
});
