import { fileURLToPath } from 'node:url';
import { createDataset, disposeBatch, type Batch, type Dataset } from '@gaze/data';
import { tf } from '@gaze/engine';
import { loadClassifier, type Classifier } from '@gaze/models';
import { afterAll, beforeAll } from 'vitest';

/** The trained quickstart classifier (configs/quickstart.yaml, seed 0), the fixture of @gaze/explainers. */
export const QUICKSTART_CLASSIFIER = fileURLToPath(new URL('../../../explainers/test/fixtures/quickstart-classifier', import.meta.url));

export function loadQuickstartClassifier(): Promise<Classifier> {
  return loadClassifier(QUICKSTART_CLASSIFIER);
}

/** The quickstart's dataset (32x32 shapes, 8 classes, seed 0); its test split is what the classifier never saw. */
export function quickstartDataset(): Promise<Dataset> {
  return createDataset({ type: 'shapes', size: 32, classes: 8, distractors: 3, splits: { train: 10000, val: 1000, test: 1000 } }, { seed: 0 });
}

/** The first `count` test batches of `batchSize` images, in order. */
export async function quickstartTestBatches(batchSize: number, count = 1): Promise<{ dataset: Dataset; batches: Batch[] }> {
  const dataset = await quickstartDataset();
  const batches: Batch[] = [];
  for await (const b of dataset.split('test').batches({ batchSize })) {
    batches.push(b);
    if (batches.length === count) break;
  }
  return { dataset, batches };
}

/** What `useQuickstartBatch` loads: filled in by its beforeAll, disposed by its afterAll. */
export interface QuickstartBatch {
  classifier: Classifier;
  dataset: Dataset;
  batch: Batch;
  /** The classifier's top-1 prediction per image, [B] int32. */
  targets: tf.Tensor1D;
}

/**
 * Registers a beforeAll that loads the quickstart classifier, the first `batchSize` test images
 * and their predicted classes, and an afterAll that disposes them; read them off the returned
 * object inside tests.
 */
export function useQuickstartBatch(batchSize = 8): QuickstartBatch {
  const state = {} as QuickstartBatch;
  beforeAll(async () => {
    state.classifier = await loadQuickstartClassifier();
    const { dataset, batches } = await quickstartTestBatches(batchSize);
    state.dataset = dataset;
    state.batch = batches[0];
    state.targets = tf.tidy(() => tf.argMax(state.classifier.logits(state.batch.images), 1).toInt() as tf.Tensor1D);
  });
  afterAll(() => {
    if (state.batch) disposeBatch(state.batch);
    state.targets?.dispose();
    state.classifier?.dispose();
  });
  return state;
}
