import { createDataset, disposeBatch, type Batch } from '@gaze/data';
import { initBackend, tf } from '@gaze/engine';
import { createExplainer } from '@gaze/explainers';
import { createEvaluator } from '@gaze/metrics';
import { loadClassifier } from '@gaze/models';

/**
 * Images/s of the causal metrics with all their steps (deletion, insertion: defaults, 224 steps,
 * so 225 scored images per image) on the quickstart classifier, scoring Grad-CAM maps of shapes
 * test images, on wasm. Quick mode: 4 images and 16 steps.
 */

const QUICKSTART_CLASSIFIER = 'packages/explainers/test/fixtures/quickstart-classifier';

export interface MetricResult {
  metric: string;
  images: number;
  steps: number;
  seconds: number;
  imagesPerSecond: number;
  /** Classifier forwards per second (every step of every image). */
  forwardsPerSecond: number;
}

export interface MetricBench {
  name: 'metrics';
  mode: 'quick' | 'full';
  model: string;
  results: MetricResult[];
}

export async function runMetricBench(options: { quick: boolean; log: (line: string) => void }): Promise<MetricBench> {
  await initBackend('wasm');
  const images = options.quick ? 4 : 32;
  const steps = options.quick ? 16 : 224;
  const classifier = await loadClassifier(QUICKSTART_CLASSIFIER);
  const dataset = await createDataset({ type: 'shapes', size: 32, classes: 8, distractors: 3, splits: { train: 1, val: 1, test: images } }, { seed: 0 });
  let batch: Batch | undefined;
  for await (const b of dataset.split('test').batches({ batchSize: images })) batch = b;
  const targets = tf.tidy(() => tf.argMax(classifier.logits(batch!.images), 1).toInt() as tf.Tensor1D);
  const explainer = createExplainer({ type: 'gradcam' }, { classifier, seed: 0, where: 'bench.gradcam' });
  const maps = await explainer.explain(batch!.images, targets);
  const results: MetricResult[] = [];
  for (const type of ['deletion', 'insertion']) {
    options.log(`  metrics: ${type}, ${steps} steps...`);
    const evaluator = createEvaluator({ type, steps }, { where: `bench.${type}`, seed: 0 });
    const context = { classifier, explainer, batch: batch!, maps, targets, info: dataset.info, seed: 0 };
    // Warm-up on one image compiles the kernels.
    await evaluator.evaluate({ ...context, batch: { ...batch!, images: batch!.images.slice(0, 1), labels: batch!.labels.slice(0, 1), ids: batch!.ids.slice(0, 1) }, maps: maps.slice(0, 1), targets: targets.slice(0, 1) });
    const t0 = performance.now();
    const rows = await evaluator.evaluate(context);
    const seconds = (performance.now() - t0) / 1000;
    if (rows.length !== images) throw new Error(`${type} returned ${rows.length} rows for ${images} images`);
    results.push({ metric: type, images, steps, seconds, imagesPerSecond: images / seconds, forwardsPerSecond: (images * (steps + 1)) / seconds });
  }
  tf.dispose([maps, targets]);
  disposeBatch(batch!);
  classifier.dispose();
  return { name: 'metrics', mode: options.quick ? 'quick' : 'full', model: 'quickstart vgg-small [16,32,64], 32x32x3, 8 classes', results };
}

export function formatMetricBench(b: MetricBench): string {
  const lines = [`Metrics (${b.mode}): causal metrics with all steps on the ${b.model}, Grad-CAM maps, wasm`];
  lines.push(`  metric     images  steps  images/s  forwards/s  seconds`);
  for (const r of b.results) {
    lines.push(`  ${r.metric.padEnd(9)}  ${String(r.images).padStart(6)}  ${String(r.steps).padStart(5)}  ${r.imagesPerSecond.toFixed(1).padStart(8)}  ${r.forwardsPerSecond.toFixed(0).padStart(10)}  ${r.seconds.toFixed(2).padStart(7)}`);
  }
  return lines.join('\n');
}
