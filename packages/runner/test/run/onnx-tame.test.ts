import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDataset, disposeBatch } from '@gaze/data';
import { initBackend, tf } from '@gaze/engine';
import { TORCH_INSTALL, exportTorchReference, torchvisionAvailable } from '@gaze/onnx/testing';
import { readMetricsCsv } from '@gaze/report';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperimentConfigWithHeads, runExperiment } from '../../src/index.js';

// The paper-scale TAME config on ONNX (experiments/tame/full-scale/imagenet-resnet50-onnx.yaml),
// as written, on a 224 px fixture: a seeded random-init torchvision ResNet-18 exported by
// PyTorch (4 classes, so the fixture's labels are its classes) and an image folder in
// ILSVRC's layout (train/ and val/ of wnid folders, a class list). Only the data, the model file
// and the run's length are overridden.
const REQUIRED = process.env.GAZE_REQUIRE_TORCH === '1';
const FOUND = torchvisionAvailable();
const CONFIG = fileURLToPath(new URL('../../../../experiments/tame/full-scale/imagenet-resnet50-onnx.yaml', import.meta.url));
const WNIDS = ['n00000001 red circle', 'n00000002 green square', 'n00000003 blue triangle', 'n00000004 yellow star'];

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-onnx-tame-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Procedural scenes saved as 240x260 PNGs (not square: the resize-256 + crop-224 path is exercised). */
async function writeFixture(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'classes.txt'), WNIDS.join('\n') + '\n');
  const dataset = await createDataset({ type: 'shapes', size: 64, classes: 4, distractors: 1, splits: { train: 8, val: 4, test: 1 } }, { seed: 0 });
  for (const split of ['train', 'val'] as const) {
    for await (const batch of dataset.split(split).batches({ batchSize: 8 })) {
      const pixels = batch.images.dataSync();
      const labels = batch.labels.dataSync();
      for (let i = 0; i < labels.length; i++) {
        const folder = join(dir, split, WNIDS[labels[i]].split(' ')[0]);
        mkdirSync(folder, { recursive: true });
        const rgb = Buffer.from(Array.from(pixels.subarray(i * 64 * 64 * 3, (i + 1) * 64 * 64 * 3), (v) => Math.round(v * 255)));
        await sharp(rgb, { raw: { width: 64, height: 64, channels: 3 } }).resize(260, 240).png().toFile(join(folder, `${split}_${i}.png`));
      }
      disposeBatch(batch);
    }
  }
}

describe.skipIf(!FOUND && !REQUIRED)('the ONNX TAME config at 224 px', () => {
  it('trains TAME on an ONNX ResNet (taps layer2/3/4 by module path) and scores it with AD/IC against Grad-CAM', async () => {
    if (!FOUND) throw new Error(`GAZE_REQUIRE_TORCH=1 but /usr/bin/python3 cannot import torch and torchvision; ${TORCH_INSTALL}`);
    const model = join(exportTorchReference(join(root, 'model'), 'resnet18', ['layer4'], { numClasses: 4, batch: 1 }), 'model.onnx');
    const data = join(root, 'data');
    await writeFixture(data);
    const sets = [
      `experiment.output=${join(root, 'runs')}`,
      `dataset.root=${data}`,
      `dataset.classes=${join(data, 'classes.txt')}`,
      `backbone.path=${model}`,
      'heads.0.train.epochs=1',
      'heads.0.train.batchSize=4',
      'explainers=[{type: gradcam, layer: layer4}]',
      'evaluationSet.images=4',
      'evaluationSet.batchSize=4',
      'evaluationSet.bootstrap=0',
      'gallery.images=2',
    ];
    const outcome = await runExperiment(await loadExperimentConfigWithHeads(CONFIG, { sets }), {});
    const [run] = outcome.runs;
    expect(run.status).toBe('finished');
    const rows = await readMetricsCsv(join(run.runDir, 'metrics.csv'));
    for (const method of ['tame', 'gradcam']) {
      for (const metric of ['ad_100', 'ic_100', 'ad_15', 'ic_15']) {
        const row = rows.find((r) => r.method === method && r.metric === metric);
        expect(row, `${method} ${metric}`).toBeDefined();
        expect(Number.isFinite(row!.value), `${method} ${metric}`).toBe(true);
      }
    }
    // AD is a percentage drop in [0, 100]; the run log shows TAME's epoch with a finite loss.
    expect(rows.filter((r) => r.metric.startsWith('ad_')).every((r) => r.value >= 0 && r.value <= 100)).toBe(true);
    const log = readFileSync(join(run.runDir, 'log.jsonl'), 'utf8');
    // ResNet-18's conv weights (11,166,912), the 4-class fc (2,052) and a bias per batch-normed
    // channel (4,800: torch folds each BatchNorm into the conv before it at export).
    expect(log).toContain('"backbone onnx: 11173764 parameters, taps layer2, layer3, layer4"');
    expect(readFileSync(join(run.runDir, 'report.md'), 'utf8')).toContain('tame');
  });
});

describe('an ONNX backbone in a run', () => {
  it('fine-tunes when trainable (checkpoints, best weights restored, the saved classifier reloads); a frozen one with train: is an error', async () => {
    const { tinyCnn, writeModel } = await import('@gaze/onnx/testing');
    const { loadClassifier } = await import('@gaze/models');
    const model = writeModel(join(root, 'tiny.onnx'), tinyCnn({ size: 16 }));
    const file = join(root, 'tiny-train.yaml');
    writeFileSync(
      file,
      `experiment: {name: onnx-train, seed: 1, output: ${JSON.stringify(join(root, 'runs'))}}
dataset: {type: shapes, size: 16, classes: 5, distractors: 0, splits: {train: 32, val: 16, test: 16}}
backbone: {type: onnx, path: ${JSON.stringify(model)}, trainable: true}
train: {epochs: 2, batchSize: 16, lr: 0.01}
explainers: [{type: gradcam}]
evaluation: [{type: deletion}]
evaluationSet: {images: 8, bootstrap: 0}
gallery: {images: 2}
`,
    );
    const outcome = await runExperiment(await loadExperimentConfigWithHeads(file), {});
    const [run] = outcome.runs;
    expect(run.status).toBe('finished');
    const history = JSON.parse(readFileSync(join(run.runDir, 'history.json'), 'utf8'));
    expect(history).toHaveLength(2);
    const saved = await loadClassifier(join(run.runDir, 'checkpoints', 'classifier'));
    expect(saved.type).toBe('onnx');
    expect(saved.trainableWeights).toHaveLength(6);
    saved.dispose();
    const rows = await readMetricsCsv(join(run.runDir, 'metrics.csv'));
    expect(rows.find((r) => r.method === 'gradcam' && r.metric === 'deletion_auc')).toBeDefined();

    const { GazeError } = await import('@gaze/engine');
    writeFileSync(file, readFileSync(file, 'utf8').replace(', trainable: true', ''));
    const error = await runExperiment(await loadExperimentConfigWithHeads(file), {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GazeError);
    expect((error as Error).message).toContain('the onnx backbone has no trainable weights');
  });
});

describe.skipIf(!FOUND && !REQUIRED)('TAME on a vision transformer through ONNX (T-TAME)', () => {
  it('trains on token taps laid on their 14x14 grid and gives maps at the input size', async () => {
    if (!FOUND) throw new Error(`GAZE_REQUIRE_TORCH=1 but /usr/bin/python3 cannot import torch and torchvision; ${TORCH_INSTALL}`);
    const { loadOnnxClassifier } = await import('@gaze/onnx');
    const { TameConfig, TameHead } = await import('@gaze/head-tame');
    const dir = exportTorchReference(join(root, 'vit'), 'vit-small', [], { opset: 17, batch: 4 });
    const taps = ['encoder.layers.encoder_layer_0', 'encoder.layers.encoder_layer_1.ln_1', 'encoder.layers.encoder_layer_1'];
    const classifier = loadOnnxClassifier(join(dir, 'model.onnx'), { preprocess: { scale: 1, mean: [0], std: [1], channelOrder: 'rgb' }, taps });
    expect(taps.map((t) => classifier.tap(t).form)).toEqual(taps.map(() => ({ kind: 'tokens', extra: 1, grid: [14, 14] })));
    const head = new TameHead(classifier, TameConfig.parse({ taps }), { seed: 0, where: 'heads.0' });
    const images = tf.randomUniform([4, 224, 224, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const labels = tf.tidy(() => tf.argMax(classifier.logits(images), 1).toInt()) as tf.Tensor1D;
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) losses.push((await head.trainStep({ images, labels, ids: ['0', '1', '2', '3'] }, { lr: 0.02 })).loss);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[3]).toBeLessThan(losses[0]);
    const maps = await head.explainer('tame').explain(images, labels);
    expect(maps.shape).toEqual([4, 224, 224]);
    tf.dispose([images, labels, maps]);
    head.dispose();
    classifier.dispose();
  });
});
