import { createDataset, disposeBatch } from '@gaze/data';
import { initBackend, tf } from '@gaze/engine';
import { createExplainer, explainerTypes } from '@gaze/explainers';
import { loadClassifier } from '@gaze/models';

/**
 * Explanations/s per method on the quickstart classifier (vgg-small [16,32,64] on 32x32 shapes,
 * the test fixture of @gaze/explainers), batch 32, on wasm. Each method runs with its defaults
 * except where a line below says otherwise, after one warm-up call.
 */

const QUICKSTART_CLASSIFIER = 'packages/explainers/test/fixtures/quickstart-classifier';

/** Settings that differ from a method's defaults: none in full mode; fewer masks, samples and iterations in quick mode. */
const OVERRIDES: Record<string, { full: Record<string, unknown>; quick: Record<string, unknown> }> = {
  rise: { full: {}, quick: { n: 100 } },
  neuromask: { full: {}, quick: { iterations: 10 } },
  smoothgrad: { full: {}, quick: { samples: 5 } },
  'integrated-gradients': { full: {}, quick: { steps: 8 } },
};

export interface ExplainerResult {
  method: string;
  images: number;
  seconds: number;
  explanationsPerSecond: number;
  settings: Record<string, unknown>;
}

export interface ExplainerBench {
  name: 'explainers';
  mode: 'quick' | 'full';
  model: string;
  batchSize: number;
  results: ExplainerResult[];
}

export async function runExplainerBench(options: { quick: boolean; log: (line: string) => void }): Promise<ExplainerBench> {
  await initBackend('wasm');
  const batchSize = options.quick ? 4 : 32;
  const classifier = await loadClassifier(QUICKSTART_CLASSIFIER);
  const dataset = await createDataset({ type: 'shapes', size: 32, classes: 8, distractors: 3, splits: { train: 1, val: 1, test: batchSize } }, { seed: 0 });
  let images: tf.Tensor4D | undefined;
  let labels: tf.Tensor1D | undefined;
  for await (const batch of dataset.split('test').batches({ batchSize })) {
    images = batch.images.clone();
    labels = batch.labels.clone();
    disposeBatch(batch);
  }
  const results: ExplainerResult[] = [];
  for (const type of explainerTypes()) {
    const override = OVERRIDES[type];
    const settings = override ? (options.quick ? override.quick : override.full) : {};
    options.log(`  explainers: ${type}${Object.keys(settings).length ? ` ${JSON.stringify(settings)}` : ''}...`);
    const explainer = createExplainer({ type, ...settings }, { classifier, seed: 0, where: `bench.${type}` });
    // Warm-up: first calls compile kernels and build masks or graphs.
    (await explainer.explain(images!.slice(0, 1), labels!.slice(0, 1))).dispose();
    const t0 = performance.now();
    const maps = await explainer.explain(images!, labels!);
    maps.dataSync();
    const seconds = (performance.now() - t0) / 1000;
    maps.dispose();
    explainer.dispose?.();
    results.push({ method: type, images: batchSize, seconds, explanationsPerSecond: batchSize / seconds, settings });
  }
  tf.dispose([images!, labels!]);
  classifier.dispose();
  return { name: 'explainers', mode: options.quick ? 'quick' : 'full', model: 'quickstart vgg-small [16,32,64], 32x32x3, 8 classes', batchSize, results };
}

export function formatExplainerBench(b: ExplainerBench): string {
  const lines = [`Explainers (${b.mode}): explanations/s on the ${b.model}, batch ${b.batchSize}, wasm`];
  const width = Math.max(...b.results.map((r) => r.method.length), 6);
  lines.push(`  ${'method'.padEnd(width)}  explanations/s  seconds  settings`);
  for (const r of b.results) {
    lines.push(`  ${r.method.padEnd(width)}  ${r.explanationsPerSecond.toFixed(1).padStart(14)}  ${r.seconds.toFixed(2).padStart(7)}  ${Object.keys(r.settings).length ? JSON.stringify(r.settings) : 'defaults'}`);
  }
  return lines.join('\n');
}
