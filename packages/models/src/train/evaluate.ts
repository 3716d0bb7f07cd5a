import { tf } from '@gaze/engine';
import { disposeBatch, type Split } from '@gaze/data';
import type { Classifier } from '../classifier.js';
import { correctCount, crossEntropyPerExample } from './loss.js';

/**
 * Mean softmax cross-entropy and accuracy (argmax == label) of `classifier` over a whole split, in
 * inference mode, unshuffled and unaugmented. One read-back per batch. An empty split gives NaN.
 */
export async function evaluateClassifier(
  classifier: Classifier,
  split: Split,
  options: { batchSize: number },
): Promise<{ loss: number; accuracy: number; n: number }> {
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  for await (const batch of split.batches({ batchSize: options.batchSize, shuffle: false, augment: false })) {
    try {
      // stats: [2] = (sum of per-example losses, correct count)
      const stats = tf.tidy(() => {
        const logits = classifier.logits(batch.images, { training: false });
        return tf.stack([tf.sum(crossEntropyPerExample(logits, batch.labels)), correctCount(logits, batch.labels)]);
      });
      const [l, c] = await stats.data();
      stats.dispose();
      lossSum += l;
      correct += c;
      n += batch.ids.length;
    } finally {
      disposeBatch(batch);
    }
  }
  return { loss: lossSum / n, accuracy: correct / n, n };
}
