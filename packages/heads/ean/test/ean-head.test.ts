import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataset, type Dataset } from '@gaze/data';
import { initBackend, tf } from '@gaze/engine';
import { createClassifier, headFactory, trainHead, type Classifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EanConfig, EanHead } from '../src/index.js';

let dataset: Dataset;
let classifier: Classifier;

beforeAll(async () => {
  await initBackend('wasm');
  dataset = await createDataset({ type: 'shapes', size: 16, classes: 3, splits: { train: 32, val: 16, test: 16 } }, { seed: 0 });
  classifier = await createClassifier({ type: 'resnet-small', channels: [8, 8], blocksPerStage: 2 }, { inputShape: [16, 16, 3], numClasses: 3, seed: 0 });
});

afterAll(() => classifier.dispose());

const config = (over: Record<string, unknown> = {}) =>
  EanConfig.parse({ search: { afterEpoch: 1, steps: 4, samples: 2, images: 16 }, train: { epochs: 2, batchSize: 16, lr: 0.05 }, ...over });

describe('EanHead', () => {
  it('registers itself as ean and refuses a search with no epoch left to fine-tune', () => {
    expect(headFactory('ean').configSchema).toBe(EanConfig);
    expect(() => new EanHead(classifier, config({ search: { afterEpoch: 2 } }), { seed: 0, where: 'heads.1' })).toThrow(/only 2 epochs/);
  });

  it('scores schemes with batch statistics and leaves the supernet\'s moving statistics as they were', async () => {
    const head = new EanHead(classifier, config(), { seed: 2, where: 'heads.0' });
    const moving = () => (head as unknown as { supernet: { weights: { trainable: boolean; read(): { dataSync(): Float32Array } }[] } }).supernet.weights.filter((w) => !w.trainable).map((w) => Array.from(w.read().dataSync()));
    const before = moving();
    const result = await head.runSearch(dataset);
    expect(result.rewards).toHaveLength(4);
    expect(moving()).toEqual(before);
    head.dispose();
  });

  it('trains the supernet, searches, fine-tunes the chosen network and resumes from its checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gaze-ean-'));
    const head = new EanHead(classifier, config(), { seed: 1, where: 'heads.0' });
    const notes: string[] = [];
    const trained = await trainHead(head, dataset, { name: 'ean', seed: 0, checkpointDir: dir, onEvent: (e) => e.type === 'note' && notes.push(...e.lines) });
    expect(trained.status).toBe('finished');
    expect(head.network).toBeDefined();
    expect(head.search!.connections).toEqual(head.policy.best());
    expect(notes[0]).toMatch(/^searched connections [01]{2} \| [01]{2} \(\d of 4 blocks/);
    const connected = head.search!.connections.filter(Boolean).length;
    expect(head.network!.model.layers.filter((l) => l.name.endsWith('_attend'))).toHaveLength(connected);
    const rows = Object.fromEntries((await head.evaluate(dataset)).map((r) => [r.metric, r.value]));
    expect(rows.connected_blocks).toBe(connected);
    // SE at C = 8, r = 4: 42 parameters per stage with a module; every block connected means both stages.
    expect(rows.dense_parameters - rows.none_parameters).toBe(84);
    expect(rows.parameters).toBe(head.network!.parameterCount);
    const maps = await head.explainer('ean').explain(tf.zeros([2, 16, 16, 3]) as tf.Tensor4D, tf.tensor1d([0, 1], 'int32'));
    expect(maps.shape).toEqual([2, 16, 16]);
    maps.dispose();

    // A fresh head loads the fine-tuning checkpoint: the same network and scheme.
    const again = new EanHead(classifier, config(), { seed: 1, where: 'heads.0' });
    await again.load(join(dir, 'last', 'head'));
    expect(again.search).toEqual(head.search);
    const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const [a, b] = [head.network!.logits(x), again.network!.logits(x)];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    head.dispose();
    again.dispose();
  });
});
