/**
 * Unit ablation of a classifier: how much each channel ("unit") of a feature tap matters, as in
 * the CNN unit-importance studies (zero one unit's activation map, measure the overall and
 * per-class accuracy drop; e.g. Zhou et al. 2018 "Revisiting the importance of individual units
 * in CNNs via ablation", Morcos et al. 2018).
 *
 * Definition as implemented. For every image x of the split and every unit k of tap T:
 * logits_k(x) = classifier.logitsWithTap(x, T, A(x) * mask_k), A(x) = the tap's activations
 * [h,w,C] and mask_k = 1 everywhere except channel k (0), so channel k's output is 0 at every
 * position and every later layer sees it zeroed. The prediction is the argmax (first index on
 * ties, tf.argMax). accuracy_k = fraction of images whose prediction equals the label;
 * drop_k = accuracy(intact model, classifier.logits) - accuracy_k (fractions in [0,1], so a drop
 * is in [-1, 1]; negative when ablating the unit helps). Per class c: the same over the images
 * labelled c; a class with no images gets NaN.
 *
 * Batching: per data batch of B images, the U ablated copies (unit-major: row u*B + b is image b
 * with unit units[u] zeroed) go through the classifier `forwardBatchSize` rows at a time, so a
 * batch costs ceil(U*B / forwardBatchSize) forwards plus one intact forward and one tap forward.
 *
 * Options (defaults): `tap` (required), `units` = every channel 0..C-1, `batchSize` = 32 images read
 * per data batch, `forwardBatchSize` = 256 ablated images per forward pass. Rows come sorted by
 * drop, largest first (ties: lower unit first).
 */
import { GazeError, tf } from '@gaze/engine';
import { disposeBatch, type Batch, type Split } from '@gaze/data';
import type { Classifier } from '@gaze/models';

export const UNIT_ABLATION_BATCH_SIZE = 32;
export const UNIT_ABLATION_FORWARD_BATCH_SIZE = 256;

export interface UnitAblationOptions {
  tap: string;
  /** Channel indices to ablate (default: all). */
  units?: number[];
  /** Images per data batch read from the split. */
  batchSize?: number;
  /** Ablated images per forward pass. */
  forwardBatchSize?: number;
  /** Called after each data batch with the images done so far. */
  onProgress?: (imagesDone: number, total: number) => void;
}

export interface UnitAblationRow {
  unit: number;
  accuracy: number;
  /** Intact accuracy minus this accuracy. */
  drop: number;
  perClassAccuracy: number[];
  /** Per class: intact minus ablated accuracy (NaN for a class with no images). */
  perClassDrop: number[];
}

export interface UnitAblationResult {
  tap: string;
  images: number;
  /** The intact model's accuracy, overall and per class. */
  accuracy: number;
  perClassAccuracy: number[];
  /** Images per class. */
  perClassCount: number[];
  /** One row per ablated unit, sorted by drop (largest first). */
  rows: UnitAblationRow[];
}

/** Ablates each unit of `options.tap` in turn over the whole split (see the file comment). */
export async function unitAblation(classifier: Classifier, split: Pick<Split, 'batches'> & { size?: number }, options: UnitAblationOptions): Promise<UnitAblationResult> {
  const { tap, batchSize = UNIT_ABLATION_BATCH_SIZE, forwardBatchSize = UNIT_ABLATION_FORWARD_BATCH_SIZE } = options;
  if (!classifier.taps.includes(tap)) {
    throw new GazeError(`${classifier.type} has no tap '${tap}'`, { hint: `its taps are: ${classifier.taps.join(', ')}` });
  }
  const k = classifier.numClasses;
  let channels = -1;
  let units: number[] = [];
  let unitIndex: Int32Array = new Int32Array(0);
  let perUnit: Int32Array = new Int32Array(0); // [U, K]: correct per unit and class
  const intact = new Int32Array(k);
  const count = new Int32Array(k);
  let images = 0;

  for await (const batch of split.batches({ batchSize })) {
    try {
      const n = batch.images.shape[0];
      if (n === 0) continue;
      const labels = (await batch.labels.data()) as Int32Array;
      const a = classifier.features(batch.images, [tap])[tap];
      try {
        if (channels < 0) {
          channels = a.shape[3];
          units = options.units ?? Array.from({ length: channels }, (_, c) => c);
          for (const u of units) {
            if (!Number.isInteger(u) || u < 0 || u >= channels) throw new GazeError(`unit ${u} is not a channel of tap '${tap}' (it has ${channels}: 0..${channels - 1})`);
          }
          unitIndex = Int32Array.from(units);
          perUnit = new Int32Array(units.length * k);
        }
        const intactPred = tf.tidy(() => tf.argMax(classifier.logits(batch.images), 1));
        const ip = (await intactPred.data()) as Int32Array;
        intactPred.dispose();
        for (let b = 0; b < n; b++) {
          const label = labels[b];
          if (label < 0 || label >= k) throw new GazeError(`label ${label} of image ${batch.ids[b]} is outside the classifier's ${k} classes`);
          count[label]++;
          if (ip[b] === label) intact[label]++;
        }
        const rows = units.length * n;
        for (let start = 0; start < rows; start += forwardBatchSize) {
          const size = Math.min(forwardBatchSize, rows - start);
          const pred = tf.tidy(() => {
            // Row r = u*n + b: image b with unit units[u] zeroed.
            const image = new Int32Array(size);
            const mask = new Float32Array(size * channels).fill(1);
            for (let i = 0; i < size; i++) {
              const r = start + i;
              image[i] = r % n;
              mask[i * channels + unitIndex[Math.floor(r / n)]] = 0;
            }
            const idx = tf.tensor1d(image, 'int32');
            const xs = tf.gather(batch.images, idx) as tf.Tensor4D;
            const as = tf.mul(tf.gather(a, idx), tf.tensor4d(mask, [size, 1, 1, channels])) as tf.Tensor4D;
            return tf.argMax(classifier.logitsWithTap(xs, tap, as), 1);
          });
          const p = (await pred.data()) as Int32Array;
          pred.dispose();
          for (let i = 0; i < size; i++) {
            const r = start + i;
            const label = labels[r % n];
            if (p[i] === label) perUnit[Math.floor(r / n) * k + label]++;
          }
        }
      } finally {
        a.dispose();
      }
      images += n;
      options.onProgress?.(images, split.size ?? images);
    } finally {
      disposeBatch(batch as Batch);
    }
  }
  if (images === 0) throw new GazeError('unit ablation got no images from the split');

  const correctTotal = (row: ArrayLike<number>) => Array.from(row).reduce((s, v) => s + v, 0);
  const accuracy = correctTotal(intact) / images;
  const perClassAccuracy = Array.from(count, (c, j) => (c > 0 ? intact[j] / c : NaN));
  const rows: UnitAblationRow[] = units.map((unit, u) => {
    const correct = perUnit.subarray(u * k, (u + 1) * k);
    const acc = correctTotal(correct) / images;
    const perClass = Array.from(count, (c, j) => (c > 0 ? correct[j] / c : NaN));
    return { unit, accuracy: acc, drop: accuracy - acc, perClassAccuracy: perClass, perClassDrop: perClass.map((v, j) => perClassAccuracy[j] - v) };
  });
  rows.sort((p, q) => q.drop - p.drop || p.unit - q.unit);
  return { tap, images, accuracy, perClassAccuracy, perClassCount: Array.from(count), rows };
}
