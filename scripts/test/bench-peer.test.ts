import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataset, disposeBatch, type Batch } from '@gaze/data';
import { initBackend, tf } from '@gaze/engine';
import { createClassifier, type LayersClassifier } from '@gaze/models';
import { describe, expect, it } from 'vitest';
import { TameConfig, TameHead } from '@gaze/head-tame';
import { exportForPeer, exportTameForPeer, kerasLayersOf, runTorchPeer } from '../bench/peer.js';

// The PyTorch peer must be the same network as Gaze's, or its timings compare nothing. Needs
// Debian's python3 with torch: skipped with the install command where it is missing, unless
// GAZE_REQUIRE_TORCH=1 (CI), where it fails.
const INSTALL = 'install it with `sudo apt-get install python3-torch`';
const FOUND = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
const REQUIRED = process.env.GAZE_REQUIRE_TORCH === '1';
const SKIP = !FOUND && !REQUIRED;
if (SKIP) console.warn(`[@gaze/scripts] skipping the PyTorch peer test: /usr/bin/python3 cannot import torch; ${INSTALL}`);

describe.skipIf(SKIP)('the PyTorch peer (scripts/bench/peer/torch_peer.py)', () => {
  it('reproduces the logits of vgg-small (with batch norm) and resnet-small (stride-2 same padding, projections), and a TAME head\'s maps on each', async () => {
    if (!FOUND) throw new Error(`GAZE_REQUIRE_TORCH=1 but /usr/bin/python3 cannot import torch; ${INSTALL}`);
    await initBackend('wasm');
    const dataset = await createDataset({ type: 'shapes', size: 20, classes: 3, distractors: 1, splits: { train: 1, val: 1, test: 4 } }, { seed: 0 });
    let batch: Batch | undefined;
    for await (const b of dataset.split('test').batches({ batchSize: 4 })) batch = b;
    for (const backbone of [
      { type: 'vgg-small', channels: [4, 8], batchNorm: true, convsPerBlock: 2 },
      // 20 -> 10 -> 5: odd sizes make TensorFlow's 'same' padding asymmetric at stride 2
      { type: 'resnet-small', channels: [4, 8, 8], mean: [0.4], std: [0.3] },
    ]) {
      const classifier = (await createClassifier(backbone, { inputShape: [20, 20, 3], numClasses: 3, seed: 5, baseDir: process.cwd(), where: 'test' })) as LayersClassifier;
      const dir = mkdtempSync(join(tmpdir(), 'gaze-peer-test-'));
      try {
        exportForPeer(dir, classifier, batch!.images, batch!.labels as tf.Tensor1D, {
          inputShape: batch!.images.shape,
          mean: classifier.spec.preprocess.mean,
          std: classifier.spec.preprocess.std,
          threads: 1,
          camLayer: 'unused',
          repeats: 1,
          workloads: [],
        });
        // A TAME head on it (after one training step, so batch norm and weights are not at their start).
        const tame = new TameHead(classifier, TameConfig.parse({}), { seed: 2, where: 'test' });
        await tame.trainStep(batch!, { lr: 0.05 });
        await exportTameForPeer(dir, tame, kerasLayersOf(classifier, tame.taps), batch!.images);
        tame.dispose();
        const out = runTorchPeer(dir);
        expect(out.maxLogitDiff, backbone.type).toBeLessThan(1e-4);
        expect(out.maxTameMapDiff, `${backbone.type} tame`).toBeLessThan(1e-4);
        expect(out.threads).toBe(1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
        classifier.dispose();
      }
    }
    disposeBatch(batch!);
  });
});
