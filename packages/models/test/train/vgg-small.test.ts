import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataset, type Dataset } from '@gaze/data';
import { initBackend } from '@gaze/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClassifier, trainClassifier, TrainConfig, type Classifier, type EpochRecord } from '../../src/index.js';

// Integration with a real backbone: vgg-small with batch norm and dropout (dropout draws from
// Math.random, which trainClassifier reseeds per epoch so a resumed run stays bit-exact).

let dataset: Dataset;
let root: string;

beforeAll(async () => {
  await initBackend('wasm');
  dataset = await createDataset({ type: 'shapes', size: 16, classes: 3, distractors: 0, splits: { train: 32, val: 8, test: 4 } }, { seed: 11 });
  root = await mkdtemp(join(tmpdir(), 'gaze-train-vgg-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const build = (): Promise<Classifier> =>
  createClassifier({ type: 'vgg-small', channels: [4, 8], batchNorm: true, dropout: 0.3 }, { inputShape: [16, 16, 3], numClasses: 3, seed: 4 });
const numbers = (h: EpochRecord[]) => h.map(({ seconds: _s, ...r }) => r);
const values = (c: Classifier) => c.weights.map((w) => Array.from(w.dataSync()));

describe('trainClassifier with vgg-small', () => {
  it('trains, and a resumed run matches a straight one bit for bit', async () => {
    const config = TrainConfig.parse({ epochs: 2, batchSize: 16, lr: 0.01, weightDecay: 1e-4 });
    const straight = await build();
    const a = await trainClassifier(straight, dataset, config, { seed: 9, checkpointDir: join(root, 'a') });
    expect(a.status).toBe('finished');
    expect(a.history).toHaveLength(2);

    const controller = new AbortController();
    const first = await build();
    const stopped = await trainClassifier(first, dataset, config, {
      seed: 9,
      checkpointDir: join(root, 'b'),
      signal: controller.signal,
      onEvent: (e) => e.type === 'epoch' && controller.abort(),
    });
    expect(stopped).toMatchObject({ status: 'interrupted' });
    expect(stopped.history).toHaveLength(1);
    first.dispose();

    const resumed = await build();
    const b = await trainClassifier(resumed, dataset, config, { seed: 9, checkpointDir: join(root, 'b'), resume: true });
    expect(numbers(b.history)).toEqual(numbers(a.history));
    expect(values(resumed)).toEqual(values(straight));
    straight.dispose();
    resumed.dispose();
  });
});
