import { fileURLToPath } from 'node:url';
import { createDataset, type Batch, type Dataset } from '@gaze/data';
import { loadClassifier, type Classifier } from '@gaze/models';

/** The quickstart classifier (configs/quickstart.yaml, seed 0), written by scripts/fixtures/quickstart-classifier.ts. */
export const QUICKSTART_CLASSIFIER = fileURLToPath(new URL('../fixtures/quickstart-classifier', import.meta.url));

export function loadQuickstartClassifier(): Promise<Classifier> {
  return loadClassifier(QUICKSTART_CLASSIFIER);
}

/** The quickstart's dataset (32x32 shapes, 8 classes, seed 0): its test split is what the classifier never saw. */
export function quickstartDataset(): Promise<Dataset> {
  return createDataset({ type: 'shapes', size: 32, classes: 8, distractors: 3, splits: { train: 10000, val: 1000, test: 1000 } }, { seed: 0 });
}

/** The first `count` test batches of `batchSize` images, in order. */
export async function quickstartTestBatches(batchSize: number, count = 1): Promise<Batch[]> {
  const batches: Batch[] = [];
  for await (const b of (await quickstartDataset()).split('test').batches({ batchSize })) {
    batches.push(b);
    if (batches.length === count) break;
  }
  return batches;
}
