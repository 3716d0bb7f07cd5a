import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createDataset, disposeBatch, type Batch } from '@gaze/data';
import { FusedAdam, initBackend, tf } from '@gaze/engine';
import { createExplainer } from '@gaze/explainers';
import { TameConfig, TameHead } from '@gaze/head-tame';
import { createEvaluator } from '@gaze/metrics';
import { createClassifier, type LayersClassifier } from '@gaze/models';
import { MIB } from './memory.js';

/**
 * The leak check: each long-loop workload (a training step, Grad-CAM, RISE, deletion+insertion,
 * a TAME training step) runs many times through the public API on one batch, and after a warm-up
 * nothing may grow: not tfjs's tensor count, not its bytes, and not the process's resident memory
 * (after a full garbage collection) beyond a small allowance for allocator slack. Memory growing
 * over long explanation loops is the complaint users of pytorch-grad-cam and Captum raise most.
 * Full mode: 1000 iterations each; quick mode (CI): 100.
 */

export interface LeakResult {
  workload: string;
  iterations: number;
  tensorsGrowth: number;
  bytesGrowth: number;
  /** After the warm-up, and after the last iteration (bytes, after a full GC). */
  rssStart: number;
  rssEnd: number;
  /** Whether the workload stayed within the allowance. */
  holds: boolean;
}

export interface LeakBench {
  name: 'leak';
  mode: 'quick' | 'full';
  /** RSS growth allowed per workload: allocator and JIT slack, not a leak. */
  allowanceMiB: number;
  results: LeakResult[];
  holds: boolean;
}

const WARMUP = 20;
const ALLOWANCE_MIB = 24;

/** A full collection, so RSS figures compare live memory rather than garbage not yet collected. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  return () => gc?.();
}

function rss(gc: () => void): number {
  gc();
  return process.memoryUsage.rss();
}

export async function runLeakBench(options: { quick: boolean; log: (line: string) => void }): Promise<LeakBench> {
  await initBackend('wasm');
  const gc = collector();
  const iterations = options.quick ? 100 : 1000;
  const size = 32;
  const batchSize = 8;
  const dataset = await createDataset({ type: 'shapes', size, classes: 8, distractors: 3, splits: { train: 1, val: 1, test: batchSize } }, { seed: 0 });
  let batch: Batch | undefined;
  for await (const b of dataset.split('test').batches({ batchSize })) batch = b;
  const { images: x, labels: y } = batch!;
  const classifier = (await createClassifier({ type: 'vgg-small' }, { inputShape: [size, size, 3], numClasses: 8, seed: 0, baseDir: process.cwd(), where: 'bench.leak' })) as LayersClassifier;
  const tame = new TameHead(classifier, TameConfig.parse({}), { seed: 0, where: 'bench.leak.tame' });
  const optimizer = new FusedAdam(1e-3);
  const onehot = tf.oneHot(y as tf.Tensor1D, 8);
  const gradcam = createExplainer({ type: 'gradcam' }, { classifier, seed: 0, where: 'bench.leak.gradcam' });
  const rise = createExplainer({ type: 'rise', n: 50 }, { classifier, seed: 0, where: 'bench.leak.rise' });
  const maps = await gradcam.explain(x, y as tf.Tensor1D);
  const evaluators = ['deletion', 'insertion'].map((type) => createEvaluator({ type, steps: 16 }, { where: `bench.leak.${type}`, seed: 0 }));
  const workloads: { name: string; run: () => Promise<void> }[] = [
    {
      name: 'vgg-small train step (Adam)',
      run: async () => {
        const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(onehot, classifier.logits(x, { training: true })) as tf.Scalar, true, classifier.trainableWeights);
        await loss!.data();
        loss!.dispose();
      },
    },
    { name: 'grad-cam', run: async () => (await gradcam.explain(x, y as tf.Tensor1D)).dispose() },
    { name: 'rise (N=50)', run: async () => (await rise.explain(x, y as tf.Tensor1D)).dispose() },
    {
      name: 'deletion+insertion (16 steps)',
      run: async () => {
        for (const e of evaluators) await e.evaluate({ classifier, explainer: gradcam, batch: batch!, maps, targets: y as tf.Tensor1D, info: dataset.info, seed: 0 });
      },
    },
    { name: 'tame train step', run: async () => void (await tame.trainStep(batch!, { lr: 1e-3 })) },
  ];
  const results: LeakResult[] = [];
  try {
    for (const w of workloads) {
      options.log(`  leak: ${w.name}, ${iterations} iterations ...`);
      for (let i = 0; i < WARMUP; i++) await w.run();
      const start = { ...tf.memory(), rss: rss(gc) };
      for (let i = 0; i < iterations; i++) await w.run();
      const end = { ...tf.memory(), rss: rss(gc) };
      const result = {
        workload: w.name,
        iterations,
        tensorsGrowth: end.numTensors - start.numTensors,
        bytesGrowth: end.numBytes - start.numBytes,
        rssStart: start.rss,
        rssEnd: end.rss,
      };
      results.push({ ...result, holds: result.tensorsGrowth === 0 && result.bytesGrowth === 0 && result.rssEnd - result.rssStart <= ALLOWANCE_MIB * MIB });
    }
  } finally {
    tf.dispose([onehot, maps]);
    optimizer.dispose();
    tame.dispose();
    classifier.dispose();
    disposeBatch(batch!);
  }
  return { name: 'leak', mode: options.quick ? 'quick' : 'full', allowanceMiB: ALLOWANCE_MIB, results, holds: results.every((r) => r.holds) };
}

export function formatLeakBench(b: LeakBench): string {
  const width = Math.max(...b.results.map((r) => r.workload.length), 8);
  const lines = [
    `Leak check (${b.mode}): vgg-small, 32x32x3 shapes, batch 8; after ${WARMUP} warm-up iterations nothing may grow (RSS after a full GC, allowance ${b.allowanceMiB} MiB)`,
    `  ${'workload'.padEnd(width)}  iterations  tensors  tfjs bytes  RSS start MiB  RSS end MiB  growth MiB  holds`,
  ];
  for (const r of b.results) {
    lines.push(
      `  ${r.workload.padEnd(width)}  ${String(r.iterations).padStart(10)}  ${String(r.tensorsGrowth).padStart(7)}  ${String(r.bytesGrowth).padStart(10)}` +
        `  ${(r.rssStart / MIB).toFixed(1).padStart(13)}  ${(r.rssEnd / MIB).toFixed(1).padStart(11)}  ${((r.rssEnd - r.rssStart) / MIB).toFixed(1).padStart(10)}  ${r.holds ? 'yes' : 'NO'}`,
    );
  }
  return lines.join('\n');
}
