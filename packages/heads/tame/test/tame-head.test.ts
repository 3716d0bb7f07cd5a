import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataset, disposeBatch, type Batch } from '@gaze/data';
import { GazeError, initBackend, tf } from '@gaze/engine';
import { createClassifier, headFactory, type Classifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { TameConfig, TameHead } from '../src/index.js';

// A TAME head on small untrained classifiers over 16x16 shapes: branch and map shapes per
// backbone, the frozen backbone, a loss that goes down, save/load, and its errors.

let batch: Batch;
const classifiers: Record<string, Classifier> = {};

beforeAll(async () => {
  await initBackend('wasm');
  const ds = await createDataset({ type: 'shapes', size: 16, classes: 3, splits: { train: 8, val: 1, test: 1 } }, { seed: 0 });
  for await (const b of ds.split('train').batches({ batchSize: 8 })) batch = b;
  const context = { inputShape: [16, 16, 3] as [number, number, number], numClasses: 3, seed: 0 };
  classifiers.vgg = await createClassifier({ type: 'vgg-small', channels: [4, 8, 8] }, context);
  classifiers.resnet = await createClassifier({ type: 'resnet-small', channels: [4, 8, 8] }, context);
});

afterAll(() => {
  disposeBatch(batch);
  for (const c of Object.values(classifiers)) c.dispose();
});

const head = (classifier: Classifier, config: z.input<typeof TameConfig> = {}) => new TameHead(classifier, TameConfig.parse(config), { seed: 1, where: 'heads.0' });

describe('TameHead', () => {
  it.each([
    ['vgg', ['block1', 'block2', 'block3'], [[8, 8, 4], [4, 4, 8], [2, 2, 8]], 8],
    ['resnet', ['stage1', 'stage2', 'stage3'], [[16, 16, 4], [8, 8, 8], [4, 4, 8]], 16],
  ] as const)('on %s taps the last three block outputs and maps at the first one\'s size', (name, taps, shapes, side) => {
    const h = head(classifiers[name]);
    expect(h.taps).toEqual(taps);
    expect(h.attention.inputs.map((i) => i.shape)).toEqual(shapes);
    const maps = h.maps(batch.images);
    expect(maps.shape).toEqual([8, side, side, 3]);
    // Branch convs C->C (+bias), batch norm gamma/beta per branch, fusion sum(C)->K (+bias).
    const channels: number[] = shapes.map((s) => s[2]);
    const expected = channels.reduce((n, c) => n + c * c + c + 2 * c, 0) + channels.reduce((a, b) => a + b) * 3 + 3;
    expect(h.trainableWeights.reduce((n, v) => n + v.size, 0)).toBe(expected);
    maps.dispose();
    h.dispose();
  });

  it('explains with [B,H,W] maps in [0,1], one per target', async () => {
    const h = head(classifiers.vgg);
    const maps = await h.explainer('tame').explain(batch.images, batch.labels);
    expect(maps.shape).toEqual([8, 16, 16]);
    const v = maps.dataSync();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeCloseTo(1, 5);
    maps.dispose();
    h.dispose();
  });

  it('trains the head only: the classifier is unchanged, the loss goes down, nothing leaks', async () => {
    const classifier = classifiers.vgg;
    const h = head(classifier, { train: { lr: 0.05 } });
    const before = classifier.weights.map((w) => Float32Array.from(w.dataSync()));
    const headBefore = h.trainableWeights.map((w) => Float32Array.from(w.dataSync()));
    const first = await h.trainStep(batch, { lr: 0.05 });
    const tensors = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 15; i++) last = await h.trainStep(batch, { lr: 0.05 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(Object.keys(first).sort()).toEqual(['area', 'ce', 'loss', 'tv']);
    expect(first.loss).toBeCloseTo(1.5 * first.ce + 2 * first.area + 0.01 * first.tv, 4);
    expect(last.loss).toBeLessThan(first.loss);
    classifier.weights.forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(before[i])));
    expect(h.trainableWeights.some((w, i) => Array.from(w.dataSync()).some((x, j) => x !== headBefore[i][j]))).toBe(true);
    h.dispose();
  });

  it('saves and loads: the same maps and optimizer state; another variant is refused', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gaze-tame-')), 'head');
    const a = head(classifiers.vgg);
    await a.trainStep(batch, { lr: 0.05 });
    await a.save(dir);
    const b = new TameHead(classifiers.vgg, TameConfig.parse({}), { seed: 2, where: 'heads.0' });
    await b.load(dir);
    const [ma, mb] = [a.maps(batch.images), b.maps(batch.images)];
    expect(Array.from(mb.dataSync())).toEqual(Array.from(ma.dataSync()));
    // The optimizer's momentum came along: one more step keeps the two identical.
    await a.trainStep(batch, { lr: 0.05 });
    await b.trainStep(batch, { lr: 0.05 });
    a.trainableWeights.forEach((w, i) => expect(Array.from(b.trainableWeights[i].dataSync())).toEqual(Array.from(w.dataSync())));
    const other = head(classifiers.vgg, { variant: 'no-skip' });
    const error = (await other.load(dir).catch((e: unknown) => e)) as GazeError;
    expect(error).toBeInstanceOf(GazeError);
    expect(error.message).toContain('not this TAME head (no-skip');
    tf.dispose([ma, mb]);
    [a, b, other].forEach((x) => x.dispose());
  });

  it.each([
    ['no-skip', (c: number[]) => c.reduce((n, ci) => n + ci * 3 + 3 + 6, 0) + 9 * 3 + 3],
    ['no-skip-no-bn', (c: number[]) => c.reduce((n, ci) => n + ci * ci + ci, 0) + c.reduce((a, b) => a + b) * 3 + 3],
  ] as const)('builds the %s ablation', (variant, count) => {
    const h = head(classifiers.vgg, { variant });
    expect(h.trainableWeights.reduce((n, v) => n + v.size, 0)).toBe(count([4, 8, 8]));
    const maps = h.maps(batch.images);
    expect(maps.shape).toEqual([8, 8, 8, 3]);
    maps.dispose();
    h.dispose();
  });

  it('names an unknown tap with the ones there are', () => {
    const error = (() => {
      try {
        head(classifiers.vgg, { taps: ['block9'] });
      } catch (e) {
        return e as GazeError;
      }
    })()!;
    expect(error.where).toBe('heads.0.taps.0');
    expect(error.hint).toContain('block1.conv, block1');
  });

  it('registers itself as the tame head', () => {
    expect(headFactory('tame').describe).toContain('TAME');
  });
});
