import type { Dataset } from '@gaze/data';
import { disposeBatch } from '@gaze/data';
import { tf } from '@gaze/engine';
import type { MethodSource } from './evaluate.js';
import type { Classifier } from '@gaze/models';
import type { GalleryInput } from '@gaze/report';
import type { ExperimentConfig } from '../config/schema.js';

/**
 * Runs every configured explainer on the same few images (the first `gallery.images` of the
 * gallery split) for the gallery of the report; returns the gallery and how long each method took.
 */
export async function explainGallery(
  classifier: Classifier,
  dataset: Dataset,
  config: ExperimentConfig,
  methods: MethodSource[],
  log: (line: string) => void,
  extraRows: ((x: tf.Tensor4D, targets: tf.Tensor1D) => Promise<GalleryInput['rows']>)[] = [],
): Promise<GalleryInput | undefined> {
  if (methods.length === 0 || config.gallery.images === 0) return undefined;
  const split = dataset.split(config.gallery.split);
  const iterator = split.batches({ batchSize: config.gallery.images, shuffle: false, augment: false })[Symbol.asyncIterator]();
  const first = await iterator.next();
  await iterator.return?.();
  if (first.done) return undefined;
  const batch = first.value;
  try {
    const predicted = tf.tidy(() => tf.argMax(classifier.logits(batch.images), 1).toInt() as tf.Tensor1D);
    const target = config.gallery.target === 'predicted' ? predicted : batch.labels;
    const [labels, predictions, targets] = [batch.labels, predicted, target].map((t) => Array.from(t.dataSync()));
    const [B, H, W, C] = batch.images.shape;
    const pixels = batch.images.dataSync() as Float32Array;
    const names = dataset.info.classNames;
    const images = Array.from({ length: B }, (_, b) => ({
      image: pixels.slice(b * H * W * C, (b + 1) * H * W * C),
      height: H,
      width: W,
      channels: C,
      caption: `${names[targets[b]]}${predictions[b] === labels[b] ? '' : ` (is ${names[labels[b]]})`}`,
    }));
    const rows: GalleryInput['rows'] = [];
    for (const method of methods) {
      const explainer = method.create();
      const start = performance.now();
      const maps = await explainer.explain(batch.images, target);
      const seconds = (performance.now() - start) / 1000;
      const data = maps.dataSync() as Float32Array;
      rows.push({ method: explainer.name, maps: Array.from({ length: B }, (_, b) => data.slice(b * H * W, (b + 1) * H * W)) });
      maps.dispose();
      explainer.dispose?.();
      log(`${explainer.name}: ${B} maps in ${seconds.toFixed(2)} s`);
    }
    for (const extra of extraRows) rows.push(...(await extra(batch.images, target)));
    predicted.dispose();
    return { images, rows };
  } finally {
    disposeBatch(batch);
  }
}
