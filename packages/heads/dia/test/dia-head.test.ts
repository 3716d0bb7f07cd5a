import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataset, disposeBatch, type Batch, type Dataset } from '@gaze/data';
import { initBackend, tf } from '@gaze/engine';
import { createClassifier, headFactory, type Classifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiaConfig, DiaHead } from '../src/index.js';

let batch: Batch;
let dataset: Dataset;
let classifier: Classifier;

beforeAll(async () => {
  await initBackend('wasm');
  dataset = await createDataset({ type: 'shapes', size: 16, classes: 3, splits: { train: 16, val: 4, test: 12 } }, { seed: 0 });
  for await (const b of dataset.split('train').batches({ batchSize: 16, shuffle: false, augment: false })) batch = b;
  classifier = await createClassifier({ type: 'resnet-small', channels: [8, 8], blocksPerStage: 2 }, { inputShape: [16, 16, 3], numClasses: 3, seed: 0 });
});

afterAll(() => {
  disposeBatch(batch);
  classifier.dispose();
});

const make = (config: Record<string, unknown> = {}, seed = 1) => new DiaHead(classifier, DiaConfig.parse(config), { seed, where: 'heads.0' });

describe('DiaHead', () => {
  it('registers itself as dia and builds the run backbone\'s shape with the module', () => {
    expect(headFactory('dia').configSchema).toBe(DiaConfig);
    const head = make();
    expect(head.model.type).toBe('resnet-small+lstm');
    expect(head.model.taps).toEqual(['stem', 'stage1', 'attention', 'stage2']);
    expect(head.map).toBe('attention');
    head.dispose();
    const plain = make({ unit: 'none' });
    expect(plain.map).toBe('cam');
    // unit none is resnet-small itself: the same parameters as the run's backbone.
    expect(plain.model.parameterCount).toBe(classifier.parameterCount);
    plain.dispose();
    expect(() => make({ unit: 'none', map: 'attention' })).toThrow(/needs an attention unit/);
  });

  it('asks for the network shape when the run backbone is not resnet-small', async () => {
    const vgg = await createClassifier({ type: 'vgg-small', channels: [4, 8] }, { inputShape: [16, 16, 3], numClasses: 3, seed: 0 });
    expect(() => new DiaHead(vgg, DiaConfig.parse({}), { seed: 0, where: 'heads.2' })).toThrow(/copies a resnet-small backbone's shape/);
    const head = new DiaHead(vgg, DiaConfig.parse({ channels: [4], blocksPerStage: 2 }), { seed: 0, where: 'heads.2' });
    expect(head.model.taps).toEqual(['stem', 'attention', 'stage1']);
    head.dispose();
    vgg.dispose();
  });

  it('trains the whole network (loss falls), leaves the run classifier alone and leaks nothing', async () => {
    const head = make({ unit: 'se' });
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

  it('maps: attention-weighted or class-weighted sums of the last stage, as [B,H,W] in [0,1]', async () => {
    const target = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32');
    for (const map of ['attention', 'cam'] as const) {
      const head = make({ map });
      const raw = head.rawMaps(batch.images, target);
      const a = head.model.features(batch.images, ['stage2', 'attention']);
      const f = a.stage2.arraySync()[3]; // image 3, target class 0
      const weights = map === 'attention' ? (a.attention.arraySync()[3][0][0] as number[]) : (head.model.model.getLayer('logits').getWeights()[0].arraySync() as number[][]).map((row) => row[0]);
      const expected = f.map((row) => row.map((v) => Math.max(0, v.reduce((s, x, k) => s + x * weights[k], 0))));
      const got = raw.arraySync()[3];
      expected.forEach((row, i) => row.forEach((v, j) => expect(got[i][j]).toBeCloseTo(v, 4)));
      const explained = await head.explainer('dia').explain(batch.images, target);
      expect(explained.shape).toEqual([16, 16, 16]);
      expect(Math.max(...explained.dataSync())).toBeLessThanOrEqual(1);
      expect(Math.max(...explained.dataSync())).toBeGreaterThan(0.5);
      expect(Math.min(...explained.dataSync())).toBeGreaterThanOrEqual(0);
      tf.dispose([raw, a.stage2, a.attention, explained]);
      head.dispose();
    }
    target.dispose();
  });

  it('saves and loads the network and its optimizer: training goes on exactly as without the stop', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gaze-dia-')), 'head');
    const a = make();
    await a.trainStep(batch, { lr: 0.05 });
    await a.save(dir);
    const b = make({}, 2);
    await b.load(dir);
    await a.trainStep(batch, { lr: 0.05 });
    await b.trainStep(batch, { lr: 0.05 });
    a.model.weights.forEach((w, i) => expect(Array.from(b.model.weights[i].dataSync())).toEqual(Array.from(w.dataSync())));
    const other = make({ unit: 'se' });
    await expect(other.load(dir)).rejects.toThrow(/does not hold this dia network/);
    [a, b, other].forEach((h) => h.dispose());
  });

  it('evaluates accuracy, parameter counts and inference time', async () => {
    const head = make({ unit: 'se', train: { batchSize: 4 } });
    const rows = Object.fromEntries((await head.evaluate(dataset)).map((r) => [r.metric, r]));
    expect(rows.accuracy.n).toBe(12);
    expect(rows.accuracy.value * 12).toBeCloseTo(Math.round(rows.accuracy.value * 12), 6);
    expect(rows.parameters.value).toBe(head.model.parameterCount);
    expect(rows.attention_parameters.value).toBe(2 * 42); // SE, C = 8, r = 4, per stage 8*2+2 + 2*8+8
    expect(rows.inference_ms_per_image.value).toBeGreaterThan(0);
    head.dispose();
  });
});
