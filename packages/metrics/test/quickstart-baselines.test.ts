import { disposeBatch, type Batch, type DatasetInfo } from '@gaze/data';
import { Rng, initBackend, tf } from '@gaze/engine';
import { createExplainer, type Explainer } from '@gaze/explainers';
import type { Classifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvaluator, type Evaluator } from '../src/index.js';
import { loadQuickstartClassifier, quickstartTestBatches } from './helpers/quickstart.js';

let classifier: Classifier;
let info: DatasetInfo;
const batches: Batch[] = [];

beforeAll(async () => {
  await initBackend('wasm');
  classifier = await loadQuickstartClassifier();
  const test = await quickstartTestBatches(32, 2); // 64 images
  info = test.dataset.info;
  batches.push(...test.batches);
});

afterAll(() => {
  batches.forEach(disposeBatch);
  classifier?.dispose();
});

/** Uniform noise maps from a seeded stream: the baseline every explainer must beat. */
function randomExplainer(seed: number): Explainer {
  const rng = new Rng(seed, 'random-map');
  return {
    name: 'random',
    async explain(x) {
      const [b, h, w] = x.shape;
      return tf.tensor3d(Float32Array.from({ length: b * h * w }, () => rng.uniform(0, 1)), [b, h, w]);
    },
  };
}

/** The mean of each evaluator's main metric for one explainer over the 64 images. */
async function score(explainer: Explainer, evaluators: Record<string, Evaluator>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [metric, evaluator] of Object.entries(evaluators)) {
    const rows = [];
    for (const batch of batches) {
      const targets = evaluator.target === 'label' ? tf.clone(batch.labels) : tf.tidy(() => tf.argMax(classifier.logits(batch.images), 1).toInt());
      const maps = await explainer.explain(batch.images, targets as tf.Tensor1D);
      rows.push(...(await evaluator.evaluate({ classifier, explainer, batch, maps, targets: targets as tf.Tensor1D, info, seed: 0 })));
      tf.dispose([maps, targets]);
    }
    out[metric] = evaluator.summarize(rows, info).summaries.find((s) => s.metric === metric)!.value;
  }
  return out;
}

describe('a random map against Grad-CAM on the trained quickstart classifier (64 test images)', () => {
  it('scores worse on deletion, insertion and the pointing game', async () => {
    const where = { where: 'evaluation', seed: 0 };
    const evaluators = {
      deletion_auc: createEvaluator({ type: 'deletion', steps: 32 }, where),
      insertion_auc: createEvaluator({ type: 'insertion', steps: 32 }, where),
      pointing_game: createEvaluator({ type: 'pointing-game' }, where),
    };
    const gradcam = await score(createExplainer({ type: 'gradcam' }, { classifier, seed: 0, where: 'explainers.0' }), evaluators);
    const random = await score(randomExplainer(0), evaluators);
    console.log('Grad-CAM', JSON.stringify(gradcam), 'random', JSON.stringify(random));
    // Lower deletion AUC is better: the score falls faster when the map's pixels go first.
    expect(gradcam.deletion_auc).toBeLessThan(random.deletion_auc - 0.05);
    expect(gradcam.insertion_auc).toBeGreaterThan(random.insertion_auc + 0.05);
    // A random map's maximum lands in the target's box about as often as the box covers the image (~10%).
    expect(gradcam.pointing_game).toBeGreaterThan(random.pointing_game + 0.3);
    expect(random.pointing_game).toBeLessThan(0.3);
  });
});
