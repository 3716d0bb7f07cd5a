import { initBackend, tf } from '@gaze/engine';
import { loadClassifier } from '@gaze/models';
await initBackend('wasm');
const c = await loadClassifier('/tmp/tame-runs/tame-try/latest/checkpoints/classifier');
for (const v of [0, 0.25, 0.5]) {
  const p = tf.softmax(c.logits(tf.fill([1, 32, 32, 3], v) as tf.Tensor4D));
  console.log(v, Array.from(p.dataSync()).map((x) => x.toFixed(2)).join(' '));
}
