import { tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';

/**
 * Inference time per image in milliseconds: the median of `repeats` timed forward passes of one
 * batch (after one untimed warm-up pass, which builds kernels and caches), each read back so the
 * time includes the whole computation.
 */
export function inferenceMilliseconds(model: Classifier, options: { batchSize: number; repeats?: number }): number {
  const repeats = options.repeats ?? 5;
  const x = tf.randomUniform([options.batchSize, ...model.inputShape], 0, 1, 'float32', 0) as tf.Tensor4D;
  const once = () => {
    const started = performance.now();
    const logits = model.logits(x);
    logits.dataSync();
    logits.dispose();
    return performance.now() - started;
  };
  try {
    once();
    const times = Array.from({ length: repeats }, once).sort((a, b) => a - b);
    return times[Math.floor(repeats / 2)] / options.batchSize;
  } finally {
    x.dispose();
  }
}
