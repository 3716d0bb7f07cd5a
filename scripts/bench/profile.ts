// `npm run bench:profile -- [backbone] [--size N] [--batch N]`: where a training step's time goes.
// Times one Adam step of a classifier on shapes (median of 15 after 3 warm-up steps), then prints
// tf.profile's kernel time per kernel name, largest first: the table scripts/bench/README.md
// reasons from.
import { parseArgs } from 'node:util';
import { createDataset, disposeBatch, type Batch } from '@gaze/data';
import { FusedAdam, initBackend, nativeKernelStatus, tf } from '@gaze/engine';
import { createClassifier, type LayersClassifier } from '@gaze/models';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { size: { type: 'string', default: '64' }, batch: { type: 'string', default: '32' } },
});
const backbone = positionals[0] ?? 'vgg-small';
const size = Number(values.size);
const batchSize = Number(values.batch);

const report = await initBackend();
console.log(`${report.backend}; ${nativeKernelStatus().active ? 'oneDNN kernels on' : `oneDNN kernels off (${nativeKernelStatus().detail})`}`);
const dataset = await createDataset({ type: 'shapes', size, classes: 8, distractors: 3, splits: { train: 1, val: 1, test: batchSize } }, { seed: 0 });
let data: Batch | undefined;
for await (const b of dataset.split('test').batches({ batchSize })) data = b;
const classifier = (await createClassifier({ type: backbone }, { inputShape: [size, size, 3], numClasses: 8, seed: 0, baseDir: process.cwd(), where: 'profile' })) as LayersClassifier;
const optimizer = new FusedAdam(1e-3); // the training loop's Adam (tfjs's update, one pass per variable)
const onehot = tf.oneHot(data!.labels as tf.Tensor1D, 8);
const step = () => {
  const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(onehot, classifier.logits(data!.images, { training: true })) as tf.Scalar, true, classifier.trainableWeights);
  loss!.dataSync();
  loss!.dispose();
};
for (let i = 0; i < 3; i++) step();
const times: number[] = [];
for (let i = 0; i < 15; i++) {
  const t0 = performance.now();
  step();
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(`${backbone} train step, ${size}x${size}x3, batch ${batchSize}: median ${times[7].toFixed(1)} ms (min ${times[0].toFixed(1)})`);

const profile = await tf.profile(step);
const byName = new Map<string, { ms: number; calls: number }>();
for (const k of profile.kernels) {
  const entry = byName.get(k.name) ?? { ms: 0, calls: 0 };
  entry.ms += k.kernelTimeMs as number;
  entry.calls++;
  byName.set(k.name, entry);
}
// Names ending in __op are tfjs's wrappers around the kernels they call: their time is counted twice.
const rows = [...byName].filter(([name]) => !name.endsWith('__op')).sort((a, b) => b[1].ms - a[1].ms);
const total = rows.reduce((sum, [, e]) => sum + e.ms, 0);
console.log(`kernel time ${total.toFixed(1)} ms in ${profile.kernels.length} calls`);
console.log(`  ${'kernel'.padEnd(28)} ${'ms'.padStart(7)} ${'calls'.padStart(6)} ${'share'.padStart(6)}`);
for (const [name, e] of rows.slice(0, 20)) {
  console.log(`  ${name.padEnd(28)} ${e.ms.toFixed(2).padStart(7)} ${String(e.calls).padStart(6)} ${((100 * e.ms) / total).toFixed(0).padStart(5)}%`);
}
optimizer.dispose();
onehot.dispose();
classifier.dispose();
disposeBatch(data!);
